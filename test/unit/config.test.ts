import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, SETTINGS } from '../../src/config/config.js';

function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig defaults', () => {
  it('uses the documented defaults for an empty environment', () => {
    const config = loadConfig({});
    expect(config.listen).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(config.adminListen).toEqual({ host: '127.0.0.1', port: 9090 });
    expect(config.dataDir).toBe(resolve('.countersign'));
    expect(config.policyDir).toBe(resolve('policies'));
    expect(config.upstreamOverrides.size).toBe(0);
    expect(config.upstreamCaFile).toBeUndefined();
    expect('upstreamCaFile' in config).toBe(false);
    expect(config.stsRegion).toBe('us-east-1');
    expect(config.logLevel).toBe('info');
    expect(config.maxBufferedBodyBytes).toBe(20 * 1024 * 1024);
  });

  it('returns a frozen object', () => {
    expect(Object.isFrozen(loadConfig({}))).toBe(true);
  });

  it('takes the STS region from COUNTERSIGN_STS_REGION, then AWS_REGION, then AWS_DEFAULT_REGION', () => {
    expect(loadConfig({ AWS_DEFAULT_REGION: 'eu-west-3' }).stsRegion).toBe('eu-west-3');
    expect(loadConfig({ AWS_DEFAULT_REGION: 'eu-west-3', AWS_REGION: 'eu-west-2' }).stsRegion).toBe('eu-west-2');
    expect(loadConfig({ AWS_DEFAULT_REGION: 'eu-west-3', AWS_REGION: 'eu-west-2', COUNTERSIGN_STS_REGION: 'eu-west-1' }).stsRegion).toBe('eu-west-1');
  });

  it('reads the other settings', () => {
    const config = loadConfig({
      COUNTERSIGN_DATA_DIR: '/var/lib/countersign',
      COUNTERSIGN_POLICY_DIR: 'rel/policies',
      COUNTERSIGN_UPSTREAM_CA_FILE: 'ca.pem',
      COUNTERSIGN_LOG_LEVEL: 'debug',
      COUNTERSIGN_MAX_BODY_BYTES: '1024',
    });
    expect(config.dataDir).toBe('/var/lib/countersign');
    expect(config.policyDir).toBe(resolve('rel/policies'));
    expect(config.upstreamCaFile).toBe(resolve('ca.pem'));
    expect(config.logLevel).toBe('debug');
    expect(config.maxBufferedBodyBytes).toBe(1024);
  });

  it('ignores environment variables that are not countersign settings', () => {
    expect(loadConfig({ PATH: '/bin', COUNTERSIGNX: '1', countersign_listen: 'x' }).listen.port).toBe(8080);
  });
});

describe('COUNTERSIGN_LISTEN', () => {
  it.each([
    ['127.0.0.1:8080', { host: '127.0.0.1', port: 8080 }],
    ['0.0.0.0:443', { host: '0.0.0.0', port: 443 }],
    ['localhost:9000', { host: 'localhost', port: 9000 }],
    ['[::1]:8443', { host: '::1', port: 8443 }],
    ['[::]:1', { host: '::', port: 1 }],
    ['127.0.0.1:0', { host: '127.0.0.1', port: 0 }],
    ['127.0.0.1:65535', { host: '127.0.0.1', port: 65535 }],
  ])('reads %s', (value, listen) => {
    expect(loadConfig({ COUNTERSIGN_LISTEN: value }).listen).toEqual(listen);
  });

  it.each(['8080', ':8080', '127.0.0.1', '127.0.0.1:', '127.0.0.1:65536', '127.0.0.1:123456', '127.0.0.1:http', '::1:8080', '127.0.0.1:80:80', ''])(
    'refuses "%s"',
    (value) => {
      expect(configError({ COUNTERSIGN_LISTEN: value }).message).toBe(`COUNTERSIGN_LISTEN="${value}": expected host:port, for example 127.0.0.1:8080.`);
    },
  );
});

describe('COUNTERSIGN_ADMIN_LISTEN', () => {
  it('reads host:port and names itself in errors', () => {
    expect(loadConfig({ COUNTERSIGN_ADMIN_LISTEN: '[::1]:9191' }).adminListen).toEqual({ host: '::1', port: 9191 });
    expect(configError({ COUNTERSIGN_ADMIN_LISTEN: '9191' }).message).toBe('COUNTERSIGN_ADMIN_LISTEN="9191": expected host:port, for example 127.0.0.1:8080.');
  });
});

describe('COUNTERSIGN_UPSTREAM_OVERRIDES', () => {
  it('reads service=URL pairs, including * for every service', () => {
    const overrides = loadConfig({ COUNTERSIGN_UPSTREAM_OVERRIDES: 's3=http://127.0.0.1:1,*=https://x' }).upstreamOverrides;
    expect([...overrides.keys()]).toEqual(['s3', '*']);
    expect(overrides.get('s3')?.href).toBe('http://127.0.0.1:1/');
    expect(overrides.get('*')?.href).toBe('https://x/');
  });

  it('trims spaces around entries', () => {
    const overrides = loadConfig({ COUNTERSIGN_UPSTREAM_OVERRIDES: ' s3 = http://localhost:4566/base , dynamodb=http://localhost:8000 ' }).upstreamOverrides;
    expect(overrides.get('s3')?.href).toBe('http://localhost:4566/base');
    expect(overrides.get('dynamodb')?.host).toBe('localhost:8000');
  });

  it('treats an empty value as no overrides', () => {
    expect(loadConfig({ COUNTERSIGN_UPSTREAM_OVERRIDES: '  ' }).upstreamOverrides.size).toBe(0);
  });

  it('refuses entries that are not service=URL', () => {
    for (const entry of ['http://127.0.0.1:1', '=http://127.0.0.1:1', 'S3=http://127.0.0.1:1', 's3 x=http://a']) {
      expect(configError({ COUNTERSIGN_UPSTREAM_OVERRIDES: entry }).message).toBe(
        `COUNTERSIGN_UPSTREAM_OVERRIDES entry "${entry}": expected service=URL, for example s3=http://127.0.0.1:4566.`,
      );
    }
  });

  it('refuses a value that is not a URL', () => {
    expect(configError({ COUNTERSIGN_UPSTREAM_OVERRIDES: 's3=not a url' }).message).toBe('COUNTERSIGN_UPSTREAM_OVERRIDES entry "s3=not a url": "not a url" is not a URL.');
    expect(configError({ COUNTERSIGN_UPSTREAM_OVERRIDES: 's3=http://ok,sts=' }).message).toBe('COUNTERSIGN_UPSTREAM_OVERRIDES entry "sts=": "" is not a URL.');
  });

  it('refuses URLs that are not http or https', () => {
    for (const url of ['ftp://example.com', 'file:///etc/passwd', 'unix:/tmp/sock']) {
      expect(configError({ COUNTERSIGN_UPSTREAM_OVERRIDES: `s3=${url}` }).message).toBe(
        `COUNTERSIGN_UPSTREAM_OVERRIDES entry "s3=${url}": only http and https URLs can be upstreams.`,
      );
    }
  });
});

describe('unknown and invalid settings', () => {
  it('refuses an unknown COUNTERSIGN_* setting, naming the known ones', () => {
    const error = configError({ COUNTERSIGN_LISTNE: '127.0.0.1:1' });
    expect(error.name).toBe('ConfigError');
    expect(error.message).toBe(`Unknown setting COUNTERSIGN_LISTNE; known settings: ${Object.keys(SETTINGS).join(', ')}.`);
  });

  it('names every unknown setting', () => {
    expect(configError({ COUNTERSIGN_A: '1', COUNTERSIGN_B: '2' }).message).toMatch(/^Unknown setting COUNTERSIGN_A, COUNTERSIGN_B; /);
  });

  it('refuses the bare COUNTERSIGN_ prefix', () => {
    expect(configError({ COUNTERSIGN_: 'x' }).message).toMatch(/^Unknown setting COUNTERSIGN_;/);
  });

  it('refuses a body limit that is not a positive whole number', () => {
    for (const value of ['0', '-1', '1.5', 'lots', '']) {
      expect(configError({ COUNTERSIGN_MAX_BODY_BYTES: value }).message).toBe(`COUNTERSIGN_MAX_BODY_BYTES="${value}": expected a positive whole number.`);
    }
  });

  it('documents every setting it reads', () => {
    expect(Object.keys(SETTINGS)).toEqual(
      expect.arrayContaining([
        'COUNTERSIGN_ADMIN_LISTEN',
        'COUNTERSIGN_DATA_DIR',
        'COUNTERSIGN_LISTEN',
        'COUNTERSIGN_LOG_LEVEL',
        'COUNTERSIGN_MAX_BODY_BYTES',
        'COUNTERSIGN_POLICY_DIR',
        'COUNTERSIGN_STS_REGION',
        'COUNTERSIGN_UPSTREAM_CA_FILE',
        'COUNTERSIGN_UPSTREAM_OVERRIDES',
      ]),
    );
  });
});
