import { describe, expect, it } from 'vitest';
import { compileGlob, compileGlobs } from '../../src/policy/glob.js';

const matches = (pattern: string, text: string, caseInsensitive = false): boolean =>
  compileGlob(pattern, { caseInsensitive })(text);

describe('compileGlob', () => {
  it('matches a literal exactly, case-sensitively by default', () => {
    expect(matches('s3:GetObject', 's3:GetObject')).toBe(true);
    expect(matches('s3:GetObject', 's3:getobject')).toBe(false);
    expect(matches('s3:GetObject', 's3:GetObjectAcl')).toBe(false);
    expect(matches('s3:GetObject', 'xs3:GetObject')).toBe(false);
    expect(matches('', '')).toBe(true);
    expect(matches('', 'a')).toBe(false);
  });

  it('lets a bare * match anything, including the empty string', () => {
    expect(matches('*', '')).toBe(true);
    expect(matches('*', 'arn:aws:s3:::bucket/key')).toBe(true);
  });

  it('lets * match any run of characters, including none and slashes', () => {
    expect(matches('s3:Get*', 's3:Get')).toBe(true);
    expect(matches('s3:Get*', 's3:GetObject')).toBe(true);
    expect(matches('s3:Get*', 's3:PutObject')).toBe(false);
    expect(matches('arn:aws:s3:::reports/*', 'arn:aws:s3:::reports/a/b/c')).toBe(true);
    expect(matches('arn:aws:s3:::reports/*', 'arn:aws:s3:::reports')).toBe(false);
    expect(matches('a*b*c', 'abc')).toBe(true);
    expect(matches('a*b*c', 'aXXbYYc')).toBe(true);
    expect(matches('a*b*c', 'aXXcYYb')).toBe(false);
  });

  it('anchors the first segment at the start and the last at the end', () => {
    expect(matches('abc*', 'abcdef')).toBe(true);
    expect(matches('abc*', 'xabcdef')).toBe(false);
    expect(matches('*def', 'abcdef')).toBe(true);
    expect(matches('*def', 'abcdefx')).toBe(false);
    expect(matches('*mid*', 'xxmidxx')).toBe(true);
    expect(matches('*mid*', 'xxmixdx')).toBe(false);
    expect(matches('a*z', 'az')).toBe(true);
    expect(matches('a*z', 'a')).toBe(false);
    expect(matches('a*z', 'z')).toBe(false);
  });

  it('lets ? match exactly one character', () => {
    expect(matches('s3:Get?bject', 's3:GetObject')).toBe(true);
    expect(matches('s3:Get?bject', 's3:Getbject')).toBe(false);
    expect(matches('s3:Get?bject', 's3:GetOObject')).toBe(false);
    expect(matches('???', 'abc')).toBe(true);
    expect(matches('???', 'ab')).toBe(false);
    expect(matches('???', 'abcd')).toBe(false);
    expect(matches('*?', '')).toBe(false);
    expect(matches('*?', 'x')).toBe(true);
    expect(matches('?*', 'x')).toBe(true);
    expect(matches('a*?c', 'ac')).toBe(false);
    expect(matches('a*?c', 'abc')).toBe(true);
    expect(matches('*a?c*', 'xxabcxx')).toBe(true);
    expect(matches('*a?c*', 'xxacxx')).toBe(false);
    expect(matches('x*b?d*y', 'xab_bcdy')).toBe(true);
  });

  it('treats regular-expression characters literally', () => {
    expect(matches('a.c', 'abc')).toBe(false);
    expect(matches('a.c', 'a.c')).toBe(true);
    expect(matches('(a)+[b]', '(a)+[b]')).toBe(true);
    expect(matches('*$', 'x$')).toBe(true);
    expect(matches('*$', 'x')).toBe(false);
  });

  it('matches *a*a on "aa" and not on "a"', () => {
    expect(matches('*a*a', 'aa')).toBe(true);
    expect(matches('*a*a', 'a')).toBe(false);
    expect(matches('*a*a', 'ba')).toBe(false);
    expect(matches('*a*a*', 'aa')).toBe(true);
    expect(matches('a*a', 'aa')).toBe(true);
  });

  it('does not let the first and last segments overlap', () => {
    expect(matches('ab*ba', 'aba')).toBe(false);
    expect(matches('ab*ba', 'abba')).toBe(true);
    expect(matches('a*a', 'a')).toBe(false);
    expect(matches('abc*cde', 'abcde')).toBe(false);
    expect(matches('abc*cde', 'abccde')).toBe(true);
    expect(matches('ab*b*ba', 'abba')).toBe(false);
    expect(matches('ab*b*ba', 'abbba')).toBe(true);
    expect(matches('a?*?a', 'aXa')).toBe(false);
    expect(matches('a?*?a', 'aXYa')).toBe(true);
  });

  it('does not let middle segments overlap the last segment', () => {
    expect(matches('*ab*b', 'ab')).toBe(false);
    expect(matches('*ab*b', 'abb')).toBe(true);
    expect(matches('*aa*aa', 'aaa')).toBe(false);
    expect(matches('*aa*aa', 'aaaa')).toBe(true);
  });

  it('treats consecutive stars like one', () => {
    expect(matches('a**b', 'ab')).toBe(true);
    expect(matches('a**b', 'axxb')).toBe(true);
    expect(matches('**', '')).toBe(true);
    expect(matches('**', 'anything')).toBe(true);
  });

  it('folds case only when asked', () => {
    expect(matches('S3:GETOBJECT', 's3:getobject', true)).toBe(true);
    expect(matches('s3:get*', 'S3:GetObject', true)).toBe(true);
    expect(matches('s3:g?tobject', 'S3:GETOBJECT', true)).toBe(true);
    expect(matches('*OBJECT', 's3:getobject', true)).toBe(true);
    expect(matches('s3:get*', 'S3:GetObject', false)).toBe(false);
    expect(matches('S3:GETOBJECT', 's3:getobject', false)).toBe(false);
  });

  it('matches ${*}, ${?} and ${$} as literal characters', () => {
    expect(matches('arn:aws:s3:::b/reports/${*}', 'arn:aws:s3:::b/reports/*')).toBe(true);
    expect(matches('arn:aws:s3:::b/reports/${*}', 'arn:aws:s3:::b/reports/x')).toBe(false);
    expect(matches('arn:aws:s3:::b/reports/${*}', 'arn:aws:s3:::b/reports/')).toBe(false);
    expect(matches('what${?}', 'what?')).toBe(true);
    expect(matches('what${?}', 'whatx')).toBe(false);
    expect(matches('${$}HOME', '$HOME')).toBe(true);
    expect(matches('${$}HOME', 'xHOME')).toBe(false);
    expect(matches('*${*}*', 'a*b')).toBe(true);
    expect(matches('*${*}*', 'ab')).toBe(false);
    expect(matches('a${*}*', 'a*anything')).toBe(true);
    expect(matches('a${*}*', 'ab')).toBe(false);
    expect(matches('${x}', '${x}')).toBe(true);
    expect(matches('${*', '${anything')).toBe(true);
  });

  it('finishes a pathological pattern against a long input', () => {
    const text = 'a'.repeat(10_000);
    expect(matches('*a*a*a*a*a*b', text)).toBe(false);
    expect(matches('*a*a*a*a*a*', text)).toBe(true);
    expect(matches('*a*a*a*a*a*a', text)).toBe(true);
    expect(matches('*?a*a?*a*a*a*b', text)).toBe(false);
    expect(matches('*aab*a', text)).toBe(false);
  });
});

describe('compileGlobs', () => {
  it('accepts text that any of the patterns matches', () => {
    const m = compileGlobs(['arn:aws:s3:::reports', 'arn:aws:s3:::reports/*']);
    expect(m('arn:aws:s3:::reports')).toBe(true);
    expect(m('arn:aws:s3:::reports/x')).toBe(true);
    expect(m('arn:aws:s3:::reportsx')).toBe(false);
  });

  it('applies the case option to every pattern', () => {
    const m = compileGlobs(['s3:GetObject', 'dynamodb:Get*'], { caseInsensitive: true });
    expect(m('S3:GETOBJECT')).toBe(true);
    expect(m('DYNAMODB:GETITEM')).toBe(true);
    expect(m('dynamodb:PutItem')).toBe(false);
  });

  it('matches nothing when given no patterns', () => {
    expect(compileGlobs([])('anything')).toBe(false);
  });
});
