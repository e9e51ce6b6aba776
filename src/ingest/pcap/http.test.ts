import { describe, expect, test } from 'vitest';
import { HttpStatus, hostOfAuthority, parseHttpRequestHead } from './http.js';

const parse = (text: string, final = false) => {
  const bytes = Buffer.from(text, 'latin1');
  return parseHttpRequestHead(bytes, 0, bytes.length, final);
};

describe('parseHttpRequestHead', () => {
  test('the Host header, in any case, trimmed', () => {
    const head = 'GET /a HTTP/1.1\r\nUser-Agent: x\r\nhOsT:  app.powerbi.com:8080 \r\n\r\n';
    expect(parse(`${head}body`)).toEqual({
      status: HttpStatus.request,
      method: 'GET',
      hostHeader: 'app.powerbi.com:8080',
      targetHost: null,
      headEnd: head.length,
    });
    expect(parse('POST / HTTP/1.0\nHost: a.example\n\n').hostHeader).toBe('a.example');
  });

  test('CONNECT and absolute-form targets name the host', () => {
    expect(parse('CONNECT app.powerbi.com:443 HTTP/1.1\r\n\r\n').targetHost).toBe('app.powerbi.com');
    expect(parse('CONNECT [2001:db8::1]:443 HTTP/1.1\r\n\r\n').targetHost).toBe('2001:db8::1');
    expect(
      parse('GET http://user@content.powerapps.com:8080/x?y HTTP/1.1\r\nHost: content.powerapps.com\r\n\r\n')
        .targetHost,
    ).toBe('content.powerapps.com');
    expect(hostOfAuthority('')).toBeNull();
  });

  test('incomplete heads wait; with final, complete lines count', () => {
    expect(parse('GE').status).toBe(HttpStatus.incomplete);
    expect(parse('GET / HTTP/1.1\r\nHost: a.exa').status).toBe(HttpStatus.incomplete);
    expect(parse('GET / HTTP/1.1\r\nHost: a.example\r\nAccept: */*', true)).toMatchObject({
      status: HttpStatus.request,
      hostHeader: 'a.example',
      headEnd: -1,
    });
  });

  test('not HTTP', () => {
    for (const text of [
      'get / HTTP/1.1\r\n',
      'SSH-2.0-OpenSSH\r\n',
      'GET\r\n',
      'GET / FTP\r\n',
      'ABCDEFGHIJKLMNOPQRSTUVWXYZ ',
    ]) {
      expect(parse(text).status).toBe(HttpStatus.notHttp);
    }
    expect(parse(`GET /${'a'.repeat(9000)}`).status).toBe(HttpStatus.notHttp);
    expect(parse('GET /', true).status).toBe(HttpStatus.notHttp);
  });
});
