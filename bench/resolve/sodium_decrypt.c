/*
 * sodium_decrypt: what libsodium alone costs to open a sealed 100-byte
 * value with XChaCha20-Poly1305 (IETF), the AEAD provsecret uses, so the
 * overhead of provsecret.resolve() over raw crypto can be read off.
 *
 *   cc -O2 -o sodium_decrypt sodium_decrypt.c -lsodium
 *   ./sodium_decrypt [iterations]
 *
 * Prints nanoseconds per operation for encrypt and decrypt, with an
 * associated-data string the size of a reference, as resolve uses.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define VALUE_LEN 100

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int
main(int argc, char **argv)
{
	long		iterations = argc > 1 ? atol(argv[1]) : 1000000;
	unsigned char key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
	unsigned char nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
	unsigned char value[VALUE_LEN];
	unsigned char sealed[VALUE_LEN + crypto_aead_xchacha20poly1305_ietf_ABYTES];
	unsigned char opened[VALUE_LEN];
	const char *ad = "managed:project/bench/s1234|project|1";
	unsigned long long sealed_len;
	unsigned long long opened_len;
	unsigned long failures = 0;
	double		start;
	double		encrypt_ns;
	double		decrypt_ns;

	if (sodium_init() < 0 || iterations <= 0)
		return 1;
	crypto_aead_xchacha20poly1305_ietf_keygen(key);
	randombytes_buf(value, sizeof(value));

	start = now_ns();
	for (long i = 0; i < iterations; i++)
	{
		randombytes_buf(nonce, sizeof(nonce));
		crypto_aead_xchacha20poly1305_ietf_encrypt(sealed, &sealed_len,
												   value, sizeof(value),
												   (const unsigned char *) ad, strlen(ad),
												   NULL, nonce, key);
	}
	encrypt_ns = (now_ns() - start) / iterations;

	start = now_ns();
	for (long i = 0; i < iterations; i++)
	{
		if (crypto_aead_xchacha20poly1305_ietf_decrypt(opened, &opened_len, NULL,
													   sealed, sealed_len,
													   (const unsigned char *) ad, strlen(ad),
													   nonce, key) != 0)
			failures++;
		sodium_memzero(opened, sizeof(opened));
	}
	decrypt_ns = (now_ns() - start) / iterations;

	printf("libsodium xchacha20poly1305_ietf %d-byte value: "
		   "encrypt %.0f ns, decrypt+wipe %.0f ns (%ld iterations)\n",
		   VALUE_LEN, encrypt_ns, decrypt_ns, iterations);
	sodium_memzero(key, sizeof(key));
	return failures != 0;
}
