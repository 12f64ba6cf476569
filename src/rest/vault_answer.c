/*
 * vault_answer.c: Vault's answer shapes for the dialect's routes
 * (docs/vault.md): the response envelope, an answer from a jansson
 * document or from JSON text (a kept list).  Errors are
 * ps_http_set_error's, which answers {"errors":[...]} for this dialect.
 */
#include "postgres.h"

#include <jansson.h>

#include "rest/rest_parse.h"
#include "rest/vault_answer.h"

void
ps_vault_answer(PsHttpRequest *req, int status, json_t *doc)
{
	char	   *text = json_dumps(doc, JSON_COMPACT);

	json_decref(doc);
	if (text == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY),
						errmsg("could not serialize the response")));
	ps_http_set_malloced_body(req, status, "application/json", text,
							  strlen(text));
}

/* Vault's response envelope around data. */
json_t *
ps_vault_envelope(PsHttpRequest *req, json_t *data)
{
	return json_pack("{s:s, s:s, s:b, s:i, s:o, s:n, s:n, s:n}",
					 "request_id", req->request_id, "lease_id", "",
					 "renewable", 0, "lease_duration", 0, "data", data,
					 "wrap_info", "warnings", "auth");
}

/*
 * 200 with Vault's envelope around data given as JSON text (a listing,
 * computed or kept), built as ps_vault_envelope() builds it.  request_id holds only
 * [A-Za-z0-9._-] (ps_rest_request_id_valid, or hex), so it needs no
 * escaping.
 */
void
ps_vault_answer_data_text(PsHttpRequest *req, const char *data, size_t len)
{
	static const char head[] = "{\"request_id\":\"";
	static const char mid[] = "\",\"lease_id\":\"\",\"renewable\":false,\"lease_duration\":0,\"data\":";
	static const char tail[] = ",\"wrap_info\":null,\"warnings\":null,\"auth\":null}";
	size_t		id = strlen(req->request_id);
	size_t		total = sizeof(head) - 1 + id + sizeof(mid) - 1 + len + sizeof(tail) - 1;
	char	   *text = ps_rest_secure_malloc(total + 1);
	char	   *p = text;

	if (text == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY),
						errmsg("out of memory")));
	memcpy(p, head, sizeof(head) - 1);
	p += sizeof(head) - 1;
	memcpy(p, req->request_id, id);
	p += id;
	memcpy(p, mid, sizeof(mid) - 1);
	p += sizeof(mid) - 1;
	memcpy(p, data, len);
	p += len;
	memcpy(p, tail, sizeof(tail));	/* with its NUL */
	ps_http_set_malloced_body(req, 200, "application/json", text, total);
}
