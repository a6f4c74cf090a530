#!/usr/bin/env python3
"""PUT an object to S3 with a signed streaming payload (aws-chunked), through an HTTPS proxy.

A client for trying countersign's chunk re-signing end to end; Python 3 standard library only.
The request is signed with SigV4 (x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD, or
-TRAILER with an x-amz-checksum-crc32 trailer) and the body is streamed chunk by chunk from a
generator, so a 1 GiB upload never sits in memory.

    AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... HTTPS_PROXY=http://127.0.0.1:8080 \\
    AWS_CA_BUNDLE=.countersign/ca.crt \\
        chunked_upload.py --region eu-west-1 --bucket my-bucket --key big.bin --size 1073741824 [--trailer]

Environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, optional AWS_SESSION_TOKEN; HTTPS_PROXY
(or https_proxy), an http:// proxy reached with CONNECT (user:password@ in it is sent as
Proxy-Authorization); AWS_CA_BUNDLE, the CA file to trust (also --ca-file).

The URL is path-style, https://s3.<region>.amazonaws.com/<bucket>/<key>; --endpoint replaces
its scheme, host and port (http://127.0.0.1:9000 for a local sink). Prints the HTTP status
and the response body; exits 0 on 2xx, 1 otherwise.
"""
import argparse
import base64
import datetime
import hashlib
import hmac
import http.client
import os
import ssl
import sys
import urllib.parse
import zlib

EMPTY_SHA256 = hashlib.sha256(b'').hexdigest()
SIGNATURE_LENGTH = 64
CHUNK_EXTENSION = ';chunk-signature='
TRAILER_SIGNATURE = 'x-amz-trailer-signature'
CHECKSUM_TRAILER = 'x-amz-checksum-crc32'


def hmac_sha256(key, message):
    return hmac.new(key, message.encode('utf-8'), hashlib.sha256).digest()


def signing_key(secret, short_date, region, service):
    key = hmac_sha256(('AWS4' + secret).encode('utf-8'), short_date)
    for part in (region, service, 'aws4_request'):
        key = hmac_sha256(key, part)
    return key


def chunk_length(size):
    """Bytes one chunk of `size` data bytes takes on the wire."""
    return len('%x' % size) + len(CHUNK_EXTENSION) + SIGNATURE_LENGTH + 2 + size + 2


def encoded_length(size, chunk_size, trailer):
    """Content-Length of the aws-chunked body for a payload of `size` bytes."""
    full, rest = divmod(size, chunk_size)
    length = full * chunk_length(chunk_size) + (chunk_length(rest) if rest else 0)
    length += len('0') + len(CHUNK_EXTENSION) + SIGNATURE_LENGTH + 2  # final chunk header
    if not trailer:
        return length + 2  # final chunk's empty data, CRLF
    checksum_length = 8  # base64 of 4 bytes
    length += len(CHECKSUM_TRAILER) + 1 + checksum_length + 2
    length += len(TRAILER_SIGNATURE) + 1 + SIGNATURE_LENGTH + 2
    return length + 2  # end of the trailer


def payload_from_file(path, chunk_size):
    with open(path, 'rb') as f:
        while True:
            data = f.read(chunk_size)
            if not data:
                return
            while len(data) < chunk_size:
                more = f.read(chunk_size - len(data))
                if not more:
                    break
                data += more
            yield data


def generated_payload(size, chunk_size):
    """`size` bytes of a repeating 0..255 pattern, in chunks of `chunk_size`."""
    block = bytes(range(256)) * (chunk_size // 256 + 2)
    offset = 0
    while offset < size:
        n = min(chunk_size, size - offset)
        start = offset % 256
        yield block[start:start + n]
        offset += n


class ChunkSigner:
    """The chunk signature chain of one request, seeded with its header signature."""

    def __init__(self, key, long_date, scope, seed):
        self.key = key
        self.long_date = long_date
        self.scope = scope
        self.previous = seed

    def chunk(self, data):
        string_to_sign = '\n'.join([
            'AWS4-HMAC-SHA256-PAYLOAD', self.long_date, self.scope, self.previous, EMPTY_SHA256,
            hashlib.sha256(data).hexdigest(),
        ])
        self.previous = hmac.new(self.key, string_to_sign.encode('utf-8'), hashlib.sha256).hexdigest()
        return self.previous

    def trailer(self, trailers):
        canonical = ''.join('%s:%s\n' % (name.lower(), value.strip()) for name, value in sorted(trailers))
        string_to_sign = '\n'.join([
            'AWS4-HMAC-SHA256-TRAILER', self.long_date, self.scope, self.previous,
            hashlib.sha256(canonical.encode('utf-8')).hexdigest(),
        ])
        self.previous = hmac.new(self.key, string_to_sign.encode('utf-8'), hashlib.sha256).hexdigest()
        return self.previous


def signed_body(pieces, signer, trailer):
    """The aws-chunked body: each chunk as its header, its data and CRLF, in separate writes."""
    crc = 0
    for data in pieces:
        crc = zlib.crc32(data, crc)
        yield ('%x%s%s\r\n' % (len(data), CHUNK_EXTENSION, signer.chunk(data))).encode('ascii')
        yield data
        yield b'\r\n'
    final = '0%s%s\r\n' % (CHUNK_EXTENSION, signer.chunk(b''))
    if not trailer:
        yield (final + '\r\n').encode('ascii')
        return
    checksum = base64.b64encode(crc.to_bytes(4, 'big')).decode('ascii')
    trailers = [(CHECKSUM_TRAILER, checksum)]
    signature = signer.trailer(trailers)
    lines = ''.join('%s:%s\r\n' % (name, value) for name, value in trailers)
    yield (final + lines + '%s:%s\r\n\r\n' % (TRAILER_SIGNATURE, signature)).encode('ascii')


def canonical_path(bucket, key):
    return '/' + urllib.parse.quote(bucket, safe='') + '/' + urllib.parse.quote(key, safe='/')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--region', required=True)
    parser.add_argument('--bucket', required=True)
    parser.add_argument('--key', required=True)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--file', help='upload this file')
    source.add_argument('--size', type=int, help='upload this many generated bytes')
    parser.add_argument('--trailer', action='store_true', help='STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER with x-amz-checksum-crc32')
    parser.add_argument('--chunk-size', type=int, default=64 * 1024)
    parser.add_argument('--ca-file', default=os.environ.get('AWS_CA_BUNDLE'), help='CA file to trust (default: $AWS_CA_BUNDLE)')
    parser.add_argument('--endpoint', help='scheme://host[:port] instead of https://s3.<region>.amazonaws.com')
    parser.add_argument('--proxy', default=os.environ.get('HTTPS_PROXY') or os.environ.get('https_proxy'),
                        help='http://[user:password@]host:port (default: $HTTPS_PROXY)')
    parser.add_argument('--no-proxy', action='store_true', help='connect directly')
    parser.add_argument('--timeout', type=float, default=300)
    args = parser.parse_args()

    access_key = os.environ.get('AWS_ACCESS_KEY_ID')
    secret_key = os.environ.get('AWS_SECRET_ACCESS_KEY')
    if not access_key or not secret_key:
        sys.exit('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set')
    session_token = os.environ.get('AWS_SESSION_TOKEN')
    if args.chunk_size < 8192:
        sys.exit('--chunk-size must be at least 8192 (S3 refuses smaller chunks)')

    endpoint = urllib.parse.urlsplit(args.endpoint or 'https://s3.%s.amazonaws.com' % args.region)
    if endpoint.scheme not in ('http', 'https') or not endpoint.hostname:
        sys.exit('--endpoint must be http(s)://host[:port]')
    default_port = 443 if endpoint.scheme == 'https' else 80
    port = endpoint.port or default_port
    host_header = endpoint.hostname if port == default_port else '%s:%d' % (endpoint.hostname, port)

    if args.file is not None:
        size = os.path.getsize(args.file)
        pieces = payload_from_file(args.file, args.chunk_size)
    else:
        size = args.size
        pieces = generated_payload(size, args.chunk_size)

    mode = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' + ('-TRAILER' if args.trailer else '')
    long_date = datetime.datetime.now(datetime.timezone.utc).strftime('%Y%m%dT%H%M%SZ')
    short_date = long_date[:8]
    scope = '%s/%s/s3/aws4_request' % (short_date, args.region)
    path = canonical_path(args.bucket, args.key)
    headers = {
        'content-encoding': 'aws-chunked',
        'content-length': str(encoded_length(size, args.chunk_size, args.trailer)),
        'host': host_header,
        'x-amz-content-sha256': mode,
        'x-amz-date': long_date,
        'x-amz-decoded-content-length': str(size),
    }
    if session_token:
        headers['x-amz-security-token'] = session_token
    if args.trailer:
        headers['x-amz-trailer'] = CHECKSUM_TRAILER
    names = sorted(headers)
    canonical_request = '\n'.join([
        'PUT', path, '',
        ''.join('%s:%s\n' % (name, headers[name].strip()) for name in names),
        ';'.join(names),
        mode,
    ])
    string_to_sign = '\n'.join([
        'AWS4-HMAC-SHA256', long_date, scope, hashlib.sha256(canonical_request.encode('utf-8')).hexdigest(),
    ])
    key = signing_key(secret_key, short_date, args.region, 's3')
    seed = hmac.new(key, string_to_sign.encode('utf-8'), hashlib.sha256).hexdigest()
    headers['authorization'] = 'AWS4-HMAC-SHA256 Credential=%s/%s,SignedHeaders=%s,Signature=%s' % (
        access_key, scope, ';'.join(names), seed)
    headers['user-agent'] = 'countersign-chunked-upload/1'

    proxy = None if args.no_proxy or not args.proxy else urllib.parse.urlsplit(args.proxy)
    if proxy is not None and (proxy.scheme != 'http' or not proxy.hostname):
        sys.exit('the proxy must be http://host:port (CONNECT over plain HTTP)')
    if endpoint.scheme == 'https':
        context = ssl.create_default_context(cafile=args.ca_file) if args.ca_file else ssl.create_default_context()
        if proxy is not None:
            conn = http.client.HTTPSConnection(proxy.hostname, proxy.port or 80, timeout=args.timeout, context=context)
        else:
            conn = http.client.HTTPSConnection(endpoint.hostname, port, timeout=args.timeout, context=context)
    else:
        conn = http.client.HTTPConnection(proxy.hostname if proxy else endpoint.hostname,
                                          (proxy.port or 80) if proxy else port, timeout=args.timeout)
    if proxy is not None:
        tunnel_headers = {}
        if proxy.username is not None:
            credentials = '%s:%s' % (urllib.parse.unquote(proxy.username), urllib.parse.unquote(proxy.password or ''))
            tunnel_headers['Proxy-Authorization'] = 'Basic ' + base64.b64encode(credentials.encode('utf-8')).decode('ascii')
        conn.set_tunnel(endpoint.hostname, port, headers=tunnel_headers)

    conn.putrequest('PUT', path, skip_host=True, skip_accept_encoding=True)
    for name, value in headers.items():
        conn.putheader(name, value)
    conn.endheaders()
    sent = 0
    for piece in signed_body(pieces, ChunkSigner(key, long_date, scope, seed), args.trailer):
        conn.send(piece)
        sent += len(piece)
    if sent != int(headers['content-length']):
        sys.exit('bug: sent %d bytes, Content-Length is %s' % (sent, headers['content-length']))
    response = conn.getresponse()
    body = response.read()
    print('%d %s' % (response.status, response.reason))
    if body:
        sys.stdout.write(body.decode('utf-8', 'replace'))
        if not body.endswith(b'\n'):
            sys.stdout.write('\n')
    conn.close()
    sys.exit(0 if 200 <= response.status < 300 else 1)


if __name__ == '__main__':
    main()
