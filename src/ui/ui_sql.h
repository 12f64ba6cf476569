/*
 * ui_sql.h: what the settings pages read through SPI, as JSON arrays of
 * objects (jansson): every query goes through the provsecret views, or
 * filters the registry by provsecret.has_permission, so the signed-in
 * user's principals decide what is seen.  Metadata only, never a value.
 */
#ifndef PROVSECRET_UI_SQL_H
#define PROVSECRET_UI_SQL_H

#include "postgres.h"

#include <jansson.h>

/*
 * Secrets of a company (company = true) or project: name, reference,
 * description, valueVersion, updatedAt, updatedBy; sorted by name.
 */
extern json_t *ps_ui_sql_secrets(bool company, const char *owner);

/* {"companies":[{"name"}], "projects":[{"name","company"}]} the user may describe. */
extern json_t *ps_ui_sql_tenants(void);

/* The tenant's newest audit events (at most limit), newest first. */
extern json_t *ps_ui_sql_audit(bool company, const char *owner, int limit);

#endif
