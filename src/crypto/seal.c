/*
 * seal.c: AEAD of secrets and data keys.
 */
#include "postgres.h"

#include <sodium.h>

#include "core/provsecret.h"
#include "crypto/seal.h"

#define PS_HEADER_LEN 9
#define PS_NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define PS_TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES

static void
put_int64(unsigned char *p, int64 v)
{
	for (int i = 7; i >= 0; i--)
	{
		p[i] = (unsigned char) (v & 0xff);
		v >>= 8;
	}
}

static int64
get_int64(const unsigned char *p)
{
	uint64		v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return (int64) v;
}

/* header || reference || 0 || scope || 0 || value_version (4 bytes BE) */
static unsigned char *
associated_data(const unsigned char *header, const PsSealBinding *binding,
				Size *len)
{
	Size		ref_len = strlen(binding->reference);
	Size		scope_len = strlen(binding->scope);
	unsigned char *ad;
	unsigned char *p;
	uint32		version = (uint32) binding->value_version;

	*len = PS_HEADER_LEN + ref_len + 1 + scope_len + 1 + 4;
	ad = palloc(*len);
	p = ad;
	memcpy(p, header, PS_HEADER_LEN);
	p += PS_HEADER_LEN;
	memcpy(p, binding->reference, ref_len + 1);
	p += ref_len + 1;
	memcpy(p, binding->scope, scope_len + 1);
	p += scope_len + 1;
	p[0] = (unsigned char) (version >> 24);
	p[1] = (unsigned char) (version >> 16);
	p[2] = (unsigned char) (version >> 8);
	p[3] = (unsigned char) version;
	return ad;
}

bytea *
ps_seal_encrypt(const unsigned char *data_key, int64 data_key_id,
				const PsSealBinding *binding, const char *value, Size value_len)
{
	Size		total = PS_HEADER_LEN + PS_NONCE_LEN + value_len + PS_TAG_LEN;
	bytea	   *result = palloc(VARHDRSZ + total);
	unsigned char *out = (unsigned char *) VARDATA(result);
	unsigned char *ad;
	Size		ad_len;
	unsigned long long clen;

	SET_VARSIZE(result, VARHDRSZ + total);
	out[0] = PS_SEAL_FORMAT;
	put_int64(out + 1, data_key_id);
	randombytes_buf(out + PS_HEADER_LEN, PS_NONCE_LEN);
	ad = associated_data(out, binding, &ad_len);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + PS_HEADER_LEN + PS_NONCE_LEN,
											   &clen,
											   (const unsigned char *) value,
											   value_len, ad, ad_len, NULL,
											   out + PS_HEADER_LEN, data_key);
	pfree(ad);
	return result;
}

static void
report_malformed(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("stored ciphertext is malformed")));
}

int64
ps_seal_data_key_id(const bytea *ciphertext)
{
	const unsigned char *p = (const unsigned char *) VARDATA_ANY(ciphertext);
	Size		len = VARSIZE_ANY_EXHDR(ciphertext);

	if (len < PS_HEADER_LEN + PS_NONCE_LEN + PS_TAG_LEN || p[0] != PS_SEAL_FORMAT)
		report_malformed();
	return get_int64(p + 1);
}

Size
ps_seal_plaintext_len(const bytea *ciphertext)
{
	Size		len = VARSIZE_ANY_EXHDR(ciphertext);

	if (len < PS_HEADER_LEN + PS_NONCE_LEN + PS_TAG_LEN)
		report_malformed();
	return len - PS_HEADER_LEN - PS_NONCE_LEN - PS_TAG_LEN;
}

void
ps_seal_decrypt(const unsigned char *data_key, const PsSealBinding *binding,
				const bytea *ciphertext, char *out)
{
	const unsigned char *p = (const unsigned char *) VARDATA_ANY(ciphertext);
	Size		len = VARSIZE_ANY_EXHDR(ciphertext);
	unsigned char *ad;
	Size		ad_len;
	unsigned long long mlen;
	int			rc;

	(void) ps_seal_data_key_id(ciphertext);
	ad = associated_data(p, binding, &ad_len);
	rc = crypto_aead_xchacha20poly1305_ietf_decrypt((unsigned char *) out, &mlen,
													NULL,
													p + PS_HEADER_LEN + PS_NONCE_LEN,
													len - PS_HEADER_LEN - PS_NONCE_LEN,
													ad, ad_len,
													p + PS_HEADER_LEN, data_key);
	pfree(ad);
	if (rc != 0)
	{
		sodium_memzero(out, len - PS_HEADER_LEN - PS_NONCE_LEN - PS_TAG_LEN);
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("ciphertext failed authentication"),
				 errdetail("The stored value does not belong to this secret and version, or it was altered.")));
	}
}

/* AD of a wrapped data key: label, id and tenant. */
static unsigned char *
key_ad(int64 key_id, const char *tenant, Size *len)
{
	static const char label[] = "provsecret data key v1";
	Size		tenant_len = strlen(tenant);
	unsigned char *ad;

	*len = sizeof(label) + 8 + tenant_len;
	ad = palloc(*len);
	memcpy(ad, label, sizeof(label));
	put_int64(ad + sizeof(label), key_id);
	memcpy(ad + sizeof(label) + 8, tenant, tenant_len);
	return ad;
}

bytea *
ps_seal_wrap_key(const PsRootKey *root, int64 key_id, const char *tenant,
				 const unsigned char *data_key)
{
	Size		total = PS_NONCE_LEN + PS_KEY_BYTES + PS_TAG_LEN;
	bytea	   *result = palloc(VARHDRSZ + total);
	unsigned char *out = (unsigned char *) VARDATA(result);
	unsigned char *ad;
	Size		ad_len;
	unsigned long long clen;

	SET_VARSIZE(result, VARHDRSZ + total);
	randombytes_buf(out, PS_NONCE_LEN);
	ad = key_ad(key_id, tenant, &ad_len);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + PS_NONCE_LEN, &clen,
											   data_key, PS_KEY_BYTES,
											   ad, ad_len, NULL, out,
											   root->key);
	pfree(ad);
	return result;
}

bool
ps_seal_unwrap_key(const PsRootKey *root, int64 key_id, const char *tenant,
				   const bytea *wrapped, unsigned char *data_key)
{
	const unsigned char *p = (const unsigned char *) VARDATA_ANY(wrapped);
	Size		len = VARSIZE_ANY_EXHDR(wrapped);
	unsigned char *ad;
	Size		ad_len;
	unsigned long long mlen;
	int			rc;

	if (len != PS_NONCE_LEN + PS_KEY_BYTES + PS_TAG_LEN)
		return false;
	ad = key_ad(key_id, tenant, &ad_len);
	rc = crypto_aead_xchacha20poly1305_ietf_decrypt(data_key, &mlen, NULL,
													p + PS_NONCE_LEN,
													len - PS_NONCE_LEN,
													ad, ad_len, p, root->key);
	pfree(ad);
	if (rc != 0)
		sodium_memzero(data_key, PS_KEY_BYTES);
	return rc == 0;
}
