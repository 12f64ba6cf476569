/*
 * ui_session.c: sessions and sign-ins under way (see ui_session.h).
 *
 * Both tables are small arrays in the worker's own memory, scanned in full:
 * a lookup compares hashes in constant time, and at most a thousand
 * entries make the scan cheaper than the request around it.
 */
#include "postgres.h"

#include <time.h>
#include <sodium.h>

#include "ui/ui_session.h"
#include "ui/ui_settings.h"

struct PsUiSession
{
	bool		used;
	unsigned char id_hash[crypto_generichash_BYTES];
	char		csrf[PS_UI_TOKEN_CHARS + 1];
	char	   *access_token;	/* malloc'd, wiped when the session ends */
	char		subject[257];
	time_t		created;
	time_t		last_used;
};

typedef struct LoginSlot
{
	bool		used;
	unsigned char binding_hash[crypto_generichash_BYTES];
	time_t		created;
	PsUiLogin	login;
} LoginSlot;

static PsUiSession sessions[PS_UI_MAX_SESSIONS];
static LoginSlot logins[PS_UI_MAX_LOGINS];

static void
random_hex(char out[PS_UI_TOKEN_CHARS + 1])
{
	unsigned char bytes[PS_UI_TOKEN_CHARS / 2];

	randombytes_buf(bytes, sizeof(bytes));
	sodium_bin2hex(out, PS_UI_TOKEN_CHARS + 1, bytes, sizeof(bytes));
	sodium_memzero(bytes, sizeof(bytes));
}

static void
hash_of(const char *text, unsigned char out[crypto_generichash_BYTES])
{
	crypto_generichash(out, crypto_generichash_BYTES,
					   (const unsigned char *) text, strlen(text), NULL, 0);
}

void
ps_ui_session_end(PsUiSession *s)
{
	if (s == NULL || !s->used)
		return;
	if (s->access_token)
	{
		sodium_memzero(s->access_token, strlen(s->access_token));
		free(s->access_token);
	}
	sodium_memzero(s, sizeof(*s));
}

static bool
expired(const PsUiSession *s, time_t now)
{
	return now - s->last_used > PS_UI_SESSION_IDLE ||
		now - s->created > PS_UI_SESSION_LIFETIME;
}

PsUiSession *
ps_ui_session_create(const char *access_token, const char *subject,
					 char cookie[PS_UI_TOKEN_CHARS + 1])
{
	time_t		now = time(NULL);
	PsUiSession *slot = NULL;
	char	   *token = strdup(access_token);

	if (token == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY),
						errmsg("out of memory")));
	/* a free or expired slot, else the least recently used */
	for (int i = 0; i < PS_UI_MAX_SESSIONS; i++)
	{
		PsUiSession *s = &sessions[i];

		if (s->used && expired(s, now))
			ps_ui_session_end(s);
		if (!s->used)
		{
			slot = s;
			break;
		}
		if (slot == NULL || s->last_used < slot->last_used)
			slot = s;
	}
	ps_ui_session_end(slot);
	random_hex(cookie);
	hash_of(cookie, slot->id_hash);
	random_hex(slot->csrf);
	slot->access_token = token;
	strlcpy(slot->subject, subject, sizeof(slot->subject));
	slot->created = slot->last_used = now;
	slot->used = true;
	return slot;
}

PsUiSession *
ps_ui_session_find(const char *cookie)
{
	unsigned char h[crypto_generichash_BYTES];
	time_t		now = time(NULL);
	PsUiSession *found = NULL;

	if (cookie == NULL || strlen(cookie) != PS_UI_TOKEN_CHARS)
		return NULL;
	hash_of(cookie, h);
	for (int i = 0; i < PS_UI_MAX_SESSIONS; i++)
	{
		PsUiSession *s = &sessions[i];

		if (s->used && sodium_memcmp(s->id_hash, h, sizeof(h)) == 0)
			found = s;
	}
	if (found == NULL)
		return NULL;
	if (expired(found, now))
	{
		ps_ui_session_end(found);
		return NULL;
	}
	found->last_used = now;
	return found;
}

const char *
ps_ui_session_token(const PsUiSession *s)
{
	return s->access_token;
}

const char *
ps_ui_session_subject(const PsUiSession *s)
{
	return s->subject;
}

const char *
ps_ui_session_csrf(const PsUiSession *s)
{
	return s->csrf;
}

bool
ps_ui_session_csrf_ok(const PsUiSession *s, const char *given)
{
	return given != NULL && strlen(given) == PS_UI_TOKEN_CHARS &&
		sodium_memcmp(s->csrf, given, PS_UI_TOKEN_CHARS) == 0;
}

const PsUiLogin *
ps_ui_login_start(const char *next, char binding[PS_UI_TOKEN_CHARS + 1])
{
	time_t		now = time(NULL);
	LoginSlot  *slot = NULL;

	for (int i = 0; i < PS_UI_MAX_LOGINS; i++)
	{
		LoginSlot  *l = &logins[i];

		if (l->used && now - l->created > PS_UI_LOGIN_LIFETIME)
			sodium_memzero(l, sizeof(*l));
		if (!l->used)
		{
			slot = l;
			break;
		}
		if (slot == NULL || l->created < slot->created)
			slot = l;
	}
	sodium_memzero(slot, sizeof(*slot));
	random_hex(binding);
	hash_of(binding, slot->binding_hash);
	random_hex(slot->login.state);
	random_hex(slot->login.nonce);
	random_hex(slot->login.verifier);
	strlcpy(slot->login.next, next, sizeof(slot->login.next));
	slot->created = now;
	slot->used = true;
	return &slot->login;
}

bool
ps_ui_login_take(const char *state, const char *binding, PsUiLogin *out)
{
	unsigned char h[crypto_generichash_BYTES];
	time_t		now = time(NULL);

	if (state == NULL || binding == NULL || strlen(state) != PS_UI_TOKEN_CHARS ||
		strlen(binding) != PS_UI_TOKEN_CHARS)
		return false;
	hash_of(binding, h);
	for (int i = 0; i < PS_UI_MAX_LOGINS; i++)
	{
		LoginSlot  *l = &logins[i];
		bool		ok;

		if (!l->used || sodium_memcmp(l->login.state, state, PS_UI_TOKEN_CHARS) != 0)
			continue;
		ok = sodium_memcmp(l->binding_hash, h, sizeof(h)) == 0 &&
			now - l->created <= PS_UI_LOGIN_LIFETIME;
		if (ok)
			*out = l->login;
		sodium_memzero(l, sizeof(*l));
		return ok;
	}
	return false;
}
