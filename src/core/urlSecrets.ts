/**
 * Secrets inside a PostgreSQL connection URL: the one definition of what never goes into a message,
 * a committed config or the approval file. Pure.
 */

/** Connection URL parameters that carry a secret (libpq: `password`, `sslpassword`; `sslkey` names the client key). */
export const SECRET_URL_PARAMS: readonly string[] = ['password', 'sslpassword', 'sslkey'];

const SECRET_PARAM = new RegExp(`[?&](?:${SECRET_URL_PARAMS.join('|')})=`, 'i');
const SECRET_PARAM_VALUE = new RegExp(`([?&](?:${SECRET_URL_PARAMS.join('|')})=)[^&#]*`, 'gi');

/** Whether a connection URL parameter's name is one of {@link SECRET_URL_PARAMS} (any case). */
export function isSecretUrlParam(name: string): boolean {
  return SECRET_URL_PARAMS.includes(name.toLowerCase());
}

/** Whether the URL text holds a password: in its user part or as one of {@link SECRET_URL_PARAMS}. */
export function urlHasSecret(url: string): boolean {
  return /^postgres(ql)?:\/\/[^@/]*:[^@/]*@/.test(url) || SECRET_PARAM.test(url);
}

/** The URL with any password removed (for messages): the user-info one and the {@link SECRET_URL_PARAMS} parameters. */
export function redactUrl(url: string): string {
  return url.replace(/^(postgres(?:ql)?:\/\/[^:@/]*):[^@]*@/, '$1:***@').replace(SECRET_PARAM_VALUE, '$1***');
}
