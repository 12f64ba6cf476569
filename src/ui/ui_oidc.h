/*
 * ui_oidc.h: the settings pages' side of OpenID Connect: the issuer's
 * discovery document, the authorization request (code flow with PKCE S256,
 * state and nonce) and the code exchange at the token endpoint.  Every
 * call leaves through the outbound worker (outbound/outbound.h).
 */
#ifndef PROVSECRET_UI_OIDC_H
#define PROVSECRET_UI_OIDC_H

#include "postgres.h"

#include "ui/ui_session.h"

/*
 * The URL to send the browser to for this sign-in (palloc'd).  Raises 55000
 * when provsecret.jwt_issuer or provsecret.ui_client_id is not set, 58030
 * when the discovery document cannot be fetched or read.
 */
extern char *ps_ui_oidc_authorize_url(const PsUiLogin *login,
									  const char *redirect_uri);

/*
 * Exchange an authorization code: *access_token and *id_token (palloc'd; the
 * caller wipes them).  Raises 58030 when the token endpoint cannot be
 * reached, 28000 when it refuses the code.
 */
extern void ps_ui_oidc_exchange(const char *code, const PsUiLogin *login,
								const char *redirect_uri,
								char **access_token, char **id_token);

#endif
