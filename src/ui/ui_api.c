/*
 * ui_api.c: the JSON endpoints of the settings pages (ui_api.h).
 *
 * Each one does what its REST twin does (routes.c), with the session's
 * principals: the permission check that audits a denial, then the secret
 * API (api/secret.h), which checks again, limits and audits.  No answer
 * carries a stored value except an explicit, audited reveal.
 */
#include "postgres.h"

#include <jansson.h>

#include "api/secret.h"
#include "core/reference.h"
#include "rest/rest_metrics.h"
#include "rest/routes.h"
#include "tenancy/authz.h"
#include "ui/ui_answer.h"
#include "ui/ui_api.h"
#include "ui/ui_sql.h"

/* The newest audit events a page shows. */
#define AUDIT_EVENTS 50

static const char *
company_of(PsUiRequest *ui)
{
	return ui->match.kind == PS_UI_KIND_COMPANY ? ui->match.owner : NULL;
}

static const char *
project_of(PsUiRequest *ui)
{
	return ui->match.kind == PS_UI_KIND_COMPANY ? NULL : ui->match.owner;
}

static char *
reference_of(PsUiRequest *ui)
{
	return psprintf("managed:%s/%s/%s",
					ui->match.kind == PS_UI_KIND_COMPANY ? "company" : "project",
					ui->match.owner, ui->match.name);
}

static void
check_names(PsUiRequest *ui, bool with_name)
{
	if (!ps_name_is_valid(ui->match.owner, strlen(ui->match.owner)))
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("The tenant name is not valid.")));
	if (with_name && !ps_name_is_valid(ui->match.name, strlen(ui->match.name)))
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("%s must start with a letter or digit and use only letters, digits, '_', '.' and '-' (at most 128 characters).",
							   ui->match.kind == PS_UI_KIND_WORKSPACE ? "The key" : "The provider")));
}

static void
save(PsHttpRequest *req, PsUiRequest *ui)
{
	PsSealResult result;

	result = ps_secret_seal_checked(reference_of(ui), req->parsed.value,
									req->parsed.value_len, req->parsed.description,
									PS_SEAL_ANY_VERSION, false);
	/* the page lists again: its read sees this change (a new snapshot) */
	ps_ui_answer_json(req, result.created ? 201 : 200,
					  json_pack("{s:b, s:i, s:s}", "created", result.created,
								"valueVersion", (int) result.value_version,
								"reference", result.reference));
}

static void
reveal(PsHttpRequest *req, PsUiRequest *ui)
{
	Size		len = 0;
	char	   *value = ps_secret_resolve(reference_of(ui), &len);
	json_t	   *doc;

	doc = json_pack("{s:s, s:s%}", "key", ui->match.name, "value", value, (size_t) len);
	explicit_bzero(value, len);
	if (doc == NULL)
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
						errmsg("secret value is not valid UTF-8")));
	ps_rest_metrics_count_reveal();
	ps_ui_answer_json(req, 200, doc);
}

void
ps_ui_api_execute(PsHttpRequest *req, PsUiRequest *ui)
{
	switch (ui->match.route)
	{
		case PS_UI_API_TENANTS:
			ps_ui_answer_json(req, 200, ps_ui_sql_tenants());
			return;
		case PS_UI_API_SECRETS:
			check_names(ui, false);
			ps_routes_require(company_of(ui), project_of(ui), PS_PERM_DESCRIBE);
			ps_ui_answer_json(req, 200,
							  json_pack("{s:o}", "secrets",
										ps_ui_sql_secrets(ui->match.kind == PS_UI_KIND_COMPANY,
														  ui->match.owner)));
			return;
		case PS_UI_API_AUDIT:
			check_names(ui, false);
			ps_routes_require(company_of(ui), project_of(ui), PS_PERM_AUDIT);
			ps_ui_answer_json(req, 200,
							  json_pack("{s:o}", "events",
										ps_ui_sql_audit(ui->match.kind == PS_UI_KIND_COMPANY,
														ui->match.owner, AUDIT_EVENTS)));
			return;
		case PS_UI_API_SECRET:
			check_names(ui, true);
			if (ui->method == PS_METHOD_PUT)
				save(req, ui);
			else
			{
				(void) ps_secret_delete(reference_of(ui));
				ps_ui_answer_json(req, 200, json_pack("{s:b}", "deleted", 1));
			}
			return;
		case PS_UI_API_REVEAL:
			check_names(ui, true);
			reveal(req, ui);
			return;
		default:
			ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
							errmsg_internal("settings page route %d has no endpoint",
											(int) ui->match.route)));
	}
}
