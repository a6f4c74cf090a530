import { describe, expect, it } from 'vitest';
import { parametersCriterion } from '../../src/policy/criteria/parameters.js';
import { agentCriterion, resourceCriterion } from '../../src/policy/criteria/patterns.js';
import { globCovers, globsOverlap } from '../../src/policy/glob-relations.js';
import { requestSizeCriterion } from '../../src/policy/criteria/request-size.js';
import { sourceIpCriterion } from '../../src/policy/criteria/source-ip.js';
import { duringCriterion, localTime, outsideCriterion } from '../../src/policy/criteria/time-window.js';
import type { PairFacts } from '../../src/policy/criteria/types.js';

const base: PairFacts = {
  agent: 'report-bot',
  agentGroups: new Set(['reporting']),
  service: 's3',
  region: 'eu-west-1',
  action: 's3:GetObject',
  resource: 'arn:aws:s3:::reports/q3.csv',
  resourceIsPattern: false,
  account: '',
  parameters: { Bucket: 'reports', Key: 'q3.csv' },
  sourceIp: '10.1.2.3',
  requestBytes: 100,
  at: new Date('2026-11-24T09:30:00Z'),
};
const facts = (over: Partial<PairFacts>): PairFacts => ({ ...base, ...over });

describe('agent criterion', () => {
  it('matches names, globs and declared groups', () => {
    expect(agentCriterion(['report-bot']).matches(base)).toBe(true);
    expect(agentCriterion(['report-*']).matches(base)).toBe(true);
    expect(agentCriterion(['group:reporting']).matches(base)).toBe(true);
    expect(agentCriterion(['group:platform', 'deploy-*']).matches(base)).toBe(false);
  });
  it('does not treat a group reference as a name glob', () => {
    expect(agentCriterion(['group:*']).matches(facts({ agent: 'group:x', agentGroups: new Set() }))).toBe(false);
  });
});

describe('time window criteria', () => {
  const berlinOfficeHours = { zone: 'Europe/Berlin', days: [1, 2, 3, 4, 5], fromMinute: 9 * 60, toMinute: 18 * 60 };

  it('reads local time in the zone, across daylight saving', () => {
    expect(localTime(new Date('2026-07-01T07:30:00Z'), 'Europe/Berlin')).toEqual({ day: 3, minute: 9 * 60 + 30 }); // CEST, UTC+2
    expect(localTime(new Date('2026-12-02T07:30:00Z'), 'Europe/Berlin')).toEqual({ day: 3, minute: 8 * 60 + 30 }); // CET, UTC+1
  });

  it('during: inside the window on a weekday, not before it, not at the end minute, not at the weekend', () => {
    const during = duringCriterion([berlinOfficeHours]);
    expect(during.matches(facts({ at: new Date('2026-11-24T08:00:00Z') }))).toBe(true); // Tue 09:00 CET
    expect(during.matches(facts({ at: new Date('2026-11-24T07:59:00Z') }))).toBe(false); // Tue 08:59
    expect(during.matches(facts({ at: new Date('2026-11-24T17:00:00Z') }))).toBe(false); // Tue 18:00, end exclusive
    expect(during.matches(facts({ at: new Date('2026-11-22T10:00:00Z') }))).toBe(false); // Sunday
    expect(during.code).toBe('OUTSIDE_TIME_WINDOW');
  });

  it('outside: the complement', () => {
    const outside = outsideCriterion([berlinOfficeHours]);
    expect(outside.matches(facts({ at: new Date('2026-11-24T08:00:00Z') }))).toBe(false);
    expect(outside.matches(facts({ at: new Date('2026-11-24T21:00:00Z') }))).toBe(true);
  });
});

describe('source IP criterion', () => {
  const criterion = sourceIpCriterion(['10.0.0.0/8', '2001:db8::/32', '192.168.1.7/32']);
  it.each([
    ['10.1.2.3', true],
    ['11.0.0.1', false],
    ['::ffff:10.9.9.9', true],
    ['2001:db8::1', true],
    ['2001:db9::1', false],
    ['192.168.1.7', true],
    ['192.168.1.8', false],
    ['not-an-ip', false],
  ])('%s → %s', (ip, expected) => {
    expect(criterion.matches(facts({ sourceIp: ip }))).toBe(expected);
  });
  it('never matches an unknown address', () => {
    expect(criterion.matches(facts({ sourceIp: undefined }))).toBe(false);
  });
});

describe('parameters criterion', () => {
  it('needs every named parameter present and matching one of its globs', () => {
    const criterion = parametersCriterion({ Bucket: ['reports'], Key: ['q*.csv', 'public/*'] });
    expect(criterion.matches(base)).toBe(true);
    expect(criterion.matches(facts({ parameters: { Bucket: 'reports', Key: 'secret.csv' } }))).toBe(false);
    expect(criterion.matches(facts({ parameters: { Bucket: 'reports' } }))).toBe(false);
  });
  it('matches JSON documents by their compact form', () => {
    // `${*}` is a literal star (IAM's escape), so this finds documents granting every action.
    const criterion = parametersCriterion({ PolicyDocument: ['*"Action":"${*}"*'] });
    expect(criterion.matches(facts({ parameters: { PolicyDocument: '{"Statement":[{"Action":"*","Effect":"Allow"}]}' } }))).toBe(true);
    expect(criterion.matches(facts({ parameters: { PolicyDocument: '{"Statement":[{"Action":"s3:Get*"}]}' } }))).toBe(false);
  });
});

describe('request size criterion', () => {
  it('admits bodies up to the limit, never one of unknown size', () => {
    const criterion = requestSizeCriterion(1024);
    expect(criterion.matches(facts({ requestBytes: 1024 }))).toBe(true);
    expect(criterion.matches(facts({ requestBytes: 1025 }))).toBe(false);
    expect(criterion.matches(facts({ requestBytes: undefined }))).toBe(false);
  });
});

describe('glob relations for resources a request names only as a pattern', () => {
  it('covers: every string of the request pattern matches the rule', () => {
    expect(globCovers('arn:aws:kms:*:*:key/*', 'arn:aws:kms:us-east-1:123:key/*')).toBe(true);
    expect(globCovers('*', 'arn:aws:ec2:us-east-1:123:instance/*')).toBe(true);
    expect(globCovers('arn:*:secret:prod-*', 'arn:aws:secretsmanager:us-east-1:1:secret:prod-db-??????')).toBe(true);
    expect(globCovers('arn:*:secret:prod-db-??????', 'arn:aws:secretsmanager:us-east-1:1:secret:prod-db-??????')).toBe(true); // * spans colons
    expect(globCovers('arn:aws:secretsmanager:*:*:secret:prod-db-??????', 'arn:aws:secretsmanager:us-east-1:1:secret:prod-db-??????')).toBe(true);
    // A rule naming one key, or `?` for one character, does not cover "any key".
    expect(globCovers('arn:aws:kms:us-east-1:123:key/1234', 'arn:aws:kms:us-east-1:123:key/*')).toBe(false);
    expect(globCovers('arn:aws:kms:us-east-1:123:key/?', 'arn:aws:kms:us-east-1:123:key/*')).toBe(false);
    expect(globCovers('arn:aws:kms:us-east-1:123:key/${*}', 'arn:aws:kms:us-east-1:123:key/*')).toBe(false);
    expect(globCovers('arn:aws:ec2:*:*:instance/i-*', 'arn:aws:ec2:us-east-1:1:instance/*')).toBe(false);
  });

  it('overlaps: some string matches both', () => {
    expect(globsOverlap('arn:aws:secretsmanager:*:*:secret:prod-db-AbCdEf', 'arn:aws:secretsmanager:us-east-1:1:secret:prod-db-??????')).toBe(true);
    expect(globsOverlap('arn:aws:secretsmanager:*:*:secret:prod-db-AbC', 'arn:aws:secretsmanager:us-east-1:1:secret:prod-db-??????')).toBe(false);
    expect(globsOverlap('arn:aws:kms:*:*:key/1234', 'arn:aws:kms:us-east-1:123:key/*')).toBe(true);
    expect(globsOverlap('arn:aws:kms:*:*:alias/*', 'arn:aws:kms:us-east-1:123:key/*')).toBe(true); // key/x:alias/y is both
    expect(globsOverlap('arn:aws:s3:::*', 'arn:aws:kms:us-east-1:123:key/*')).toBe(false);
    expect(globsOverlap('*x*', '*y*')).toBe(true);
    expect(globsOverlap('*x*y', '*y*x')).toBe(false); // one ends in y, the other in x
    expect(globsOverlap('a?c', 'ab*')).toBe(true);
    expect(globsOverlap('a?c', 'abcd*')).toBe(false);
  });

  it('an allow rule must cover a pattern resource; a deny rule applies when it overlaps', () => {
    const kmsAnyKey = facts({ action: 'kms:Decrypt', resource: 'arn:aws:kms:us-east-1:123456789012:key/*', resourceIsPattern: true });
    const oneKey = ['arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab'];
    expect(resourceCriterion(oneKey, 'allow').matches(kmsAnyKey)).toBe(false);
    expect(resourceCriterion(oneKey, 'approve').matches(kmsAnyKey)).toBe(false);
    expect(resourceCriterion(oneKey, 'deny').matches(kmsAnyKey)).toBe(true);
    expect(resourceCriterion(['arn:aws:kms:*:123456789012:key/*'], 'allow').matches(kmsAnyKey)).toBe(true);
    // A literal resource is matched as ever, whatever its characters.
    const literalStar = facts({ resource: 'arn:aws:s3:::reports/*' });
    expect(resourceCriterion(['arn:aws:s3:::reports/${*}'], 'allow').matches(literalStar)).toBe(true);
    expect(resourceCriterion(['arn:aws:s3:::reports/q3.csv'], 'deny').matches(literalStar)).toBe(false);
  });
});
