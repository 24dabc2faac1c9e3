/** What a JSON call answered: status, parsed body (the text when it is not JSON), headers. */
export interface Answer {
  status: number;
  body: any;
  headers: Headers;
}

/**
 * A caller for a server on `baseURL`: objects go as JSON, strings and FormData as they are (give
 * their content type in `headers` when it matters); the answer's body is parsed when it is JSON.
 */
export function jsonCaller(baseURL: string | (() => string)) {
  return async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> => {
    const init: RequestInit = { method, headers: { ...headers } };
    if (body !== undefined) {
      const raw = typeof body === "string" || body instanceof FormData;
      init.body = raw ? (body as string | FormData) : JSON.stringify(body);
      if (!raw) (init.headers as Record<string, string>)["content-type"] ??= "application/json";
    }
    const response = await fetch(`${typeof baseURL === "function" ? baseURL() : baseURL}${path}`, init);
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {}
    return { status: response.status, body: parsed, headers: response.headers };
  };
}
