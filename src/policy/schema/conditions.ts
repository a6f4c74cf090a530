import { isIP } from 'node:net';
import { isMap, isScalar, isSeq, type Node, type YAMLMap } from 'yaml';
import type { ConditionsSpec, TimeWindowSpec } from '../types.js';
import { describe, type Checker } from './checker.js';

export const CONDITIONS_KEYS = ['during', 'outside', 'sourceIps', 'parameters', 'maxRequestBytes'];
export const TIME_WINDOW_KEYS = ['zone', 'days', 'hours'];
const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const PARAMETER_NAME = /^[A-Za-z][A-Za-z0-9.]{0,127}$/;

export function validateConditions(check: Checker, rule: YAMLMap, what: string): ConditionsSpec | undefined {
  if (!rule.has('conditions')) return undefined;
  const node = check.map(rule.get('conditions', true), `${what} conditions`, CONDITIONS_KEYS);
  if (node === undefined) return undefined;
  const during = check.list(node, 'during', `${what}.conditions`, (n) => timeWindow(check, n, what));
  const outside = check.list(node, 'outside', `${what}.conditions`, (n) => timeWindow(check, n, what));
  const sourceIps = check.list(node, 'sourceIps', `${what}.conditions`, (n) => cidr(check, n));
  const parameters = validateParameters(check, node.get('parameters', true), what);
  const maxRequestBytes = check.integer(node, 'maxRequestBytes', `${what}.conditions`, 0, Number.MAX_SAFE_INTEGER);
  return {
    ...(during !== undefined && { during }),
    ...(outside !== undefined && { outside }),
    ...(sourceIps !== undefined && { sourceIps }),
    ...(parameters !== undefined && { parameters }),
    ...(maxRequestBytes !== undefined && { maxRequestBytes }),
  };
}

/** `{zone: Europe/Berlin, days: [mon, fri], hours: "09:00-18:00"}`; the zone is checked against the IANA database. */
function timeWindow(check: Checker, node: Node, what: string): TimeWindowSpec | undefined {
  const window = check.map(node, 'a time window', TIME_WINDOW_KEYS);
  if (window === undefined) return undefined;
  const zone = check.required(window, 'zone', 'a time window', check.string(window, 'zone', `${what} time window`));
  if (zone !== undefined && !isTimeZone(zone)) return check.fail(window.get('zone', true), `found unknown time zone "${zone}", expected an IANA zone like "Europe/Berlin" or "UTC"`);
  const days = check.list(window, 'days', `${what} time window`, check.stringItem('days', /^(sun|mon|tue|wed|thu|fri|sat)$/, 'a day: sun, mon, tue, wed, thu, fri or sat'));
  const hours = check.required(window, 'hours', 'a time window', check.string(window, 'hours', `${what} time window`, /^([01]\d|2[0-3]):[0-5]\d-(([01]\d|2[0-3]):[0-5]\d|24:00)$/, '"HH:MM-HH:MM", for example "09:00-18:00"'));
  if (zone === undefined || hours === undefined) return undefined;
  const [from = '', to = ''] = hours.split('-');
  const fromMinute = minutes(from);
  const toMinute = minutes(to);
  if (toMinute <= fromMinute) return check.fail(window.get('hours', true), `found "${hours}", expected an end after the start (windows do not wrap midnight; use two windows)`);
  return { zone, days: (days ?? DAY_NAMES).map((d) => DAY_NAMES.indexOf(d)), fromMinute, toMinute };
}

function minutes(hhmm: string): number {
  const [h = '0', m = '0'] = hhmm.split(':');
  return Number(h) * 60 + Number(m);
}

export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function cidr(check: Checker, node: Node): string | undefined {
  const value = isScalar(node) && typeof node.value === 'string' ? node.value : undefined;
  const [address = '', prefix] = value?.split('/') ?? [];
  const family = isIP(address);
  const bits = prefix === undefined ? (family === 6 ? 128 : 32) : Number(prefix);
  if (value === undefined || family === 0 || !Number.isInteger(bits) || bits < 0 || bits > (family === 6 ? 128 : 32)) {
    return check.fail(node, `found ${describe(node)} in sourceIps, expected an IP address or CIDR like "10.0.0.0/8"`);
  }
  return `${address}/${bits}`;
}

function validateParameters(check: Checker, node: unknown, what: string): Record<string, string[]> | undefined {
  if (node === undefined) return undefined;
  if (!isMap(node) || node.items.length === 0) return check.fail(node, `found ${describe(node)} for ${what}.conditions.parameters, expected a mapping of parameter name to globs`);
  const parameters: Record<string, string[]> = {};
  for (const pair of node.items) {
    const name = isScalar(pair.key) ? String(pair.key.value) : '';
    if (!PARAMETER_NAME.test(name)) {
      check.fail(pair.key, `found parameter name "${name}", expected a request parameter name like TableName or Key`);
      continue;
    }
    const values = pair.value;
    const globs = isSeq(values) && values.items.length > 0 ? values.items.map((v) => (isScalar(v) && typeof v.value === 'string' ? v.value : undefined)) : [];
    if (globs.length === 0 || globs.some((g) => g === undefined)) {
      check.fail(values, `found ${describe(values)} for parameter ${name}, expected a non-empty list of string globs`);
      continue;
    }
    parameters[name] = globs as string[];
  }
  return parameters;
}
