/*
 * base64url.h: strict base64url decoding (RFC 4648 §5, no padding), as JWS
 * and JWK require.
 *
 * Pure C (no postgres.h): it reads hostile input and is unit-tested and
 * fuzzed outside a server.
 */
#ifndef PROVSECRET_BASE64URL_H
#define PROVSECRET_BASE64URL_H

#include <stdbool.h>
#include <stddef.h>

/* Largest number of bytes that len characters of base64url can decode to. */
#define PS_BASE64URL_DECODED_MAX(len) (((len) / 4) * 3 + 2)

/*
 * Decode len characters of src into dst (room for dstcap bytes).  Rejects
 * padding, whitespace, characters outside the URL-safe alphabet, a length of
 * 1 mod 4 and non-zero trailing bits (so every byte string has exactly one
 * accepted encoding).  Returns false on any of those; *outlen is set on
 * success.
 */
extern bool ps_base64url_decode(const char *src, size_t len,
								unsigned char *dst, size_t dstcap,
								size_t *outlen);

/* Same, into a malloc'd buffer (NUL-terminated for convenience); NULL on error. */
extern unsigned char *ps_base64url_decode_alloc(const char *src, size_t len,
												size_t *outlen);

#endif
