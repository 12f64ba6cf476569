/*
 * rest_openapi.h: the OpenAPI document served at GET /v1/openapi.json.
 *
 * The document is docs/openapi.json, embedded into the library at build
 * time (rest_openapi.c), so the served contract cannot drift from the file
 * that is linted and reviewed.
 */
#ifndef PROVSECRET_REST_OPENAPI_H
#define PROVSECRET_REST_OPENAPI_H

extern const char ps_openapi_document[];	/* NUL-terminated */
extern const char ps_openapi_document_end[];

#endif
