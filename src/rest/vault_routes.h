/*
 * vault_routes.h: the Vault KV v2 dialect of the REST listener
 * (docs/vault.md).  Requests reach the same secret API as native REST
 * (api/secret.h), which authorizes and audits; channel "vault".
 */
#ifndef PROVSECRET_VAULT_ROUTES_H
#define PROVSECRET_VAULT_ROUTES_H

#include "rest/http_request.h"

/* As ps_routes_prepare, for a request the Vault dialect claimed. */
extern bool ps_vault_prepare(PsHttpRequest *req);

/* As ps_routes_execute, for a request the Vault dialect claimed. */
extern void ps_vault_execute(PsHttpRequest *req);

#endif
