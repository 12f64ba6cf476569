/*
 * base64url.c: strict base64url decoding for JWS segments and JWK members.
 *
 * OpenSSL's EVP_DecodeBlock accepts only the standard alphabet and skips
 * whitespace; tokens need the URL-safe alphabet without padding, and a
 * verifier should accept one encoding per value, so the decoder is here.
 */
#include <stdlib.h>

#include "core/base64url.h"

/* Value of a base64url character, or -1. */
static int
b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

bool
ps_base64url_decode(const char *src, size_t len, unsigned char *dst,
					size_t dstcap, size_t *outlen)
{
	unsigned int acc = 0;
	int			bits = 0;
	size_t		n = 0;

	if (len % 4 == 1)
		return false;
	for (size_t i = 0; i < len; i++)
	{
		int			v = b64url_value((unsigned char) src[i]);

		if (v < 0)
			return false;
		acc = (acc << 6) | (unsigned int) v;
		bits += 6;
		if (bits >= 8)
		{
			bits -= 8;
			if (n >= dstcap)
				return false;
			dst[n++] = (unsigned char) ((acc >> bits) & 0xFF);
		}
	}
	/* Leftover bits must be zero: "AB" and "AC" must not both decode to 0x00. */
	if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
		return false;
	*outlen = n;
	return true;
}

unsigned char *
ps_base64url_decode_alloc(const char *src, size_t len, size_t *outlen)
{
	size_t		cap = PS_BASE64URL_DECODED_MAX(len);
	unsigned char *buf = malloc(cap + 1);

	if (buf == NULL)
		return NULL;
	if (!ps_base64url_decode(src, len, buf, cap, outlen))
	{
		free(buf);
		return NULL;
	}
	buf[*outlen] = '\0';
	return buf;
}
