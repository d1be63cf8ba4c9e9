import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { isAuthorized } from './server.js';

const request = (authorization: string | undefined, url = '/'): IncomingMessage =>
  ({ headers: authorization === undefined ? {} : { authorization }, url }) as IncomingMessage;

describe('isAuthorized', () => {
  it('takes the Bearer scheme in any letter case (RFC 7235), or ?token=, and nothing else', () => {
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) expect(isAuthorized(request(`${scheme} s3cret`), 's3cret'), scheme).toBe(true);
    expect(isAuthorized(request(undefined, '/api/status?token=s3cret'), 's3cret')).toBe(true);
    expect(isAuthorized(request('Bearer s3cre'), 's3cret')).toBe(false);
    expect(isAuthorized(request('Basic s3cret'), 's3cret')).toBe(false);
    expect(isAuthorized(request('Bearers3cret'), 's3cret')).toBe(false);
    // A header that does not start with the scheme is not a bearer token: the query decides.
    expect(isAuthorized(request('Xbearer wrong', '/?token=s3cret'), 's3cret')).toBe(true);
    expect(isAuthorized(request(undefined), 's3cret')).toBe(false);
    // The header wins over the query when both are given.
    expect(isAuthorized(request('Bearer wrong', '/?token=s3cret'), 's3cret')).toBe(false);
    expect(isAuthorized(request(undefined), undefined)).toBe(true);
  });
});
