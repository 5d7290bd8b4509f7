import { network } from './auth-rate-limiter.js';

describe('network (what a per-address limit counts by)', () => {
  it('keeps an IPv4 address, also when written IPv4-mapped', () => {
    expect(network('203.0.113.7')).toBe('203.0.113.7');
    expect(network('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(network('::FFFF:127.0.0.1')).toBe('127.0.0.1');
  });

  it('takes an IPv6 address as its /64, however it is written', () => {
    expect(network('2001:db8:abcd:12:1:2:3:4')).toBe('2001:db8:abcd:12::/64');
    expect(network('2001:db8:abcd:12::99')).toBe('2001:db8:abcd:12::/64');
    expect(network('2001:0db8:abcd:0012:ffff::1')).toBe('2001:db8:abcd:12::/64');
    expect(network('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(network('::1')).toBe('0:0:0:0::/64');
  });

  it('says unknown when there is no address', () => {
    expect(network(null)).toBe('unknown');
  });
});
