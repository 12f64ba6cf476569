/*
 * vault_answer.h: Vault's answer shapes (vault_answer.c), shared by the
 * dialect's routes (vault_routes.c, vault_auth.c).
 */
#ifndef PROVSECRET_VAULT_ANSWER_H
#define PROVSECRET_VAULT_ANSWER_H

#include "postgres.h"

#include <jansson.h>

#include "rest/http_request.h"

/* Answer status with doc serialized (doc is consumed). */
extern void ps_vault_answer(PsHttpRequest *req, int status, json_t *doc);

/* Vault's response envelope around data (consumed): request_id, lease, ... */
extern json_t *ps_vault_envelope(PsHttpRequest *req, json_t *data);

/* 200 with the same envelope around data given as JSON text (copied). */
extern void ps_vault_answer_data_text(PsHttpRequest *req, const char *data,
									  size_t len);

#endif
