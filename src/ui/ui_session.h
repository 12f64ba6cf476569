/*
 * ui_session.h: the settings pages' sessions and sign-ins under way, kept
 * in the REST worker's memory (never in a table, never in the browser).
 *
 * A session is found by an opaque random id (the cookie), stored only as
 * its BLAKE2b hash; it holds the signed-in user's access token (malloc'd,
 * wiped when the session ends) and a CSRF token.  It ends on sign-out,
 * after PS_UI_SESSION_IDLE unused, PS_UI_SESSION_LIFETIME after sign-in,
 * when its token is refused, or when PS_UI_MAX_SESSIONS newer ones push it
 * out.
 */
#ifndef PROVSECRET_UI_SESSION_H
#define PROVSECRET_UI_SESSION_H

#include "postgres.h"

/* hex of 32 random bytes */
#define PS_UI_TOKEN_CHARS 64

typedef struct PsUiSession PsUiSession;

/*
 * A new session for a verified sign-in; *cookie receives its id (hex, the
 * only copy outside the hash).  The access token is copied.
 */
extern PsUiSession *ps_ui_session_create(const char *access_token,
										 const char *subject,
										 char cookie[PS_UI_TOKEN_CHARS + 1]);

/* The live session of this cookie value, or NULL; marks it used. */
extern PsUiSession *ps_ui_session_find(const char *cookie);

extern void ps_ui_session_end(PsUiSession *session);

extern const char *ps_ui_session_token(const PsUiSession *session);
extern const char *ps_ui_session_subject(const PsUiSession *session);
extern const char *ps_ui_session_csrf(const PsUiSession *session);

/* Constant-time comparison of a request's CSRF token with the session's. */
extern bool ps_ui_session_csrf_ok(const PsUiSession *session, const char *given);

/*
 * A sign-in under way: its state, nonce and PKCE verifier, bound to the
 * browser by a second cookie (*binding).  Returns the state.
 */
typedef struct PsUiLogin
{
	char		state[PS_UI_TOKEN_CHARS + 1];
	char		nonce[PS_UI_TOKEN_CHARS + 1];
	char		verifier[PS_UI_TOKEN_CHARS + 1];
	char		next[513];
} PsUiLogin;

extern const PsUiLogin *ps_ui_login_start(const char *next,
										  char binding[PS_UI_TOKEN_CHARS + 1]);

/*
 * Take the sign-in with this state, if the browser's binding cookie is its
 * own and it has not expired; it is removed either way (one use).  False
 * when none matches.
 */
extern bool ps_ui_login_take(const char *state, const char *binding,
							 PsUiLogin *out);

#endif
