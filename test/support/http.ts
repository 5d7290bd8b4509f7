export interface HttpResult<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export interface RequestOptions {
  body?: unknown;
  /** A raw body sent as is (for malformed JSON and size tests). */
  raw?: string | Buffer | FormData;
  token?: string;
  headers?: Record<string, string>;
}

/** A thin fetch wrapper for tests: JSON in, JSON (or text) out, never throws on a status. */
export function httpClient(baseUrl: string) {
  return async function request<T = any>(method: string, path: string, options: RequestOptions = {}): Promise<HttpResult<T>> {
    const headers: Record<string, string> = { ...options.headers };
    let body: any;
    if (options.raw !== undefined) body = options.raw;
    else if (options.body !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = JSON.stringify(options.body);
    }
    if (options.raw !== undefined && typeof options.raw === 'string') headers['content-type'] ??= 'application/json';
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    const response = await fetch(baseUrl + path, { method, headers, body, redirect: 'manual' });
    const text = await response.text();
    let parsed: unknown = text;
    if ((response.headers.get('content-type') ?? '').includes('json') && text) parsed = JSON.parse(text);
    return { status: response.status, body: parsed as T, headers: response.headers };
  };
}

export function expectErrorShape(result: HttpResult, status: number, code: string): void {
  expect({ status: result.status, code: result.body?.code }).toEqual({ status, code });
  expect(result.body).toEqual(
    expect.objectContaining({ statusCode: status, error: expect.any(String), code, message: expect.any(String) }),
  );
}
