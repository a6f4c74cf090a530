#!/usr/bin/env python3
"""Write a signed aws-chunked body (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]) to stdout.

An independent reference for src/aws/chunked.ts, written from the AWS S3 API reference
("Signature Calculations for the Authorization Header: Transferring Payload in Multiple
Chunks" and "... Including Trailing Headers"); Python 3 standard library only.

    chunked_body.py --secret S --date 20130524T000000Z --region us-east-1 --service s3 \
        --seed <64 hex> --chunk-size 65536 --size 66560 [--trailer] [--payload a|pattern]

The payload is --size bytes: all 'a' (the AWS example's payload) or a repeating 0..255
pattern. With --trailer the final chunk is followed by an x-amz-checksum-crc32 trailer and
its signature, as the AWS SDK for Java v2 writes it:

    0;chunk-signature=<sig>\\r\\n
    x-amz-checksum-crc32:<base64>\\r\\n
    x-amz-trailer-signature:<sig>\\r\\n
    \\r\\n

--print-signatures writes the chunk (and trailer) signatures, one a line, instead of the body.
"""
import argparse
import base64
import hashlib
import hmac
import sys
import zlib

EMPTY_SHA256 = hashlib.sha256(b'').hexdigest()


def hmac_sha256(key, message):
    return hmac.new(key, message.encode('utf-8') if isinstance(message, str) else message, hashlib.sha256).digest()


def signing_key(secret, short_date, region, service):
    key = hmac_sha256(('AWS4' + secret).encode('utf-8'), short_date)
    for part in (region, service, 'aws4_request'):
        key = hmac_sha256(key, part)
    return key


def payload_pieces(size, chunk_size, kind):
    if kind == 'a':
        block = b'a' * chunk_size
    else:
        block = (bytes(range(256)) * (chunk_size // 256 + 2))
    offset = 0
    while offset < size:
        n = min(chunk_size, size - offset)
        if kind == 'a':
            yield block[:n]
        else:
            start = offset % 256
            yield block[start:start + n]
        offset += n


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--secret', required=True)
    parser.add_argument('--date', required=True, help='X-Amz-Date, e.g. 20130524T000000Z')
    parser.add_argument('--region', required=True)
    parser.add_argument('--service', default='s3')
    parser.add_argument('--seed', required=True, help='seed (header) signature, 64 hex digits')
    parser.add_argument('--chunk-size', type=int, default=65536)
    parser.add_argument('--size', type=int, required=True, help='payload bytes')
    parser.add_argument('--trailer', action='store_true', help='add a signed x-amz-checksum-crc32 trailer')
    parser.add_argument('--payload', choices=('a', 'pattern'), default='pattern')
    parser.add_argument('--print-signatures', action='store_true')
    args = parser.parse_args()

    short_date = args.date[:8]
    scope = '%s/%s/%s/aws4_request' % (short_date, args.region, args.service)
    key = signing_key(args.secret, short_date, args.region, args.service)
    previous = args.seed
    out = sys.stdout.buffer
    signatures = []
    crc = 0

    def chunk_signature(data):
        string_to_sign = '\n'.join([
            'AWS4-HMAC-SHA256-PAYLOAD', args.date, scope, previous, EMPTY_SHA256, hashlib.sha256(data).hexdigest(),
        ])
        return hmac.new(key, string_to_sign.encode('utf-8'), hashlib.sha256).hexdigest()

    for data in payload_pieces(args.size, args.chunk_size, args.payload):
        crc = zlib.crc32(data, crc)
        previous = chunk_signature(data)
        signatures.append(previous)
        if not args.print_signatures:
            out.write(('%x;chunk-signature=%s\r\n' % (len(data), previous)).encode('ascii'))
            out.write(data)
            out.write(b'\r\n')

    previous = chunk_signature(b'')
    signatures.append(previous)
    if not args.print_signatures:
        out.write(('0;chunk-signature=%s\r\n' % previous).encode('ascii'))

    if args.trailer:
        checksum = base64.b64encode(crc.to_bytes(4, 'big')).decode('ascii')
        trailers = [('x-amz-checksum-crc32', checksum)]
        canonical = ''.join('%s:%s\n' % (name, value) for name, value in sorted(trailers))
        string_to_sign = '\n'.join([
            'AWS4-HMAC-SHA256-TRAILER', args.date, scope, previous, hashlib.sha256(canonical.encode('utf-8')).hexdigest(),
        ])
        previous = hmac.new(key, string_to_sign.encode('utf-8'), hashlib.sha256).hexdigest()
        signatures.append(previous)
        if not args.print_signatures:
            for name, value in trailers:
                out.write(('%s:%s\r\n' % (name, value)).encode('ascii'))
            out.write(('x-amz-trailer-signature:%s\r\n' % previous).encode('ascii'))

    if args.print_signatures:
        out.write(('\n'.join(signatures) + '\n').encode('ascii'))
    else:
        out.write(b'\r\n')
    out.flush()


if __name__ == '__main__':
    main()
