import { clientNetwork, displayAddress } from './client-network.js';

describe('displayAddress', () => {
  it('shows an IPv4-mapped address as IPv4, and any other as it is', () => {
    expect(displayAddress('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(displayAddress('::FFFF:10.1.2.3')).toBe('10.1.2.3');
    expect(displayAddress('10.1.2.3')).toBe('10.1.2.3');
    expect(displayAddress('2001:db8::1')).toBe('2001:db8::1');
    expect(displayAddress('::ffff:7f00:1')).toBe('::ffff:7f00:1');
  });
});

describe('clientNetwork (what a per-address limit counts by)', () => {
  it('keeps an IPv4 address, also when written IPv4-mapped', () => {
    expect(clientNetwork('203.0.113.7')).toBe('203.0.113.7');
    expect(clientNetwork('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(clientNetwork('::FFFF:127.0.0.1')).toBe('127.0.0.1');
  });

  it('takes an IPv6 address as its /64, however it is written', () => {
    expect(clientNetwork('2001:db8:abcd:12:1:2:3:4')).toBe('2001:db8:abcd:12::/64');
    expect(clientNetwork('2001:db8:abcd:12::99')).toBe('2001:db8:abcd:12::/64');
    expect(clientNetwork('2001:0db8:abcd:0012:ffff::1')).toBe('2001:db8:abcd:12::/64');
    expect(clientNetwork('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientNetwork('::1')).toBe('0:0:0:0::/64');
  });

  it('says unknown when there is no address', () => {
    expect(clientNetwork(null)).toBe('unknown');
  });
});

describe('clientNetwork, as pending sockets are keyed', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['::FFFF:203.0.113.7', '203.0.113.7'],
    ['2001:db8:85a3:8d3:1319:8a2e:370:7348', '2001:db8:85a3:8d3::/64'],
    ['2001:db8:85a3:8d3::1', '2001:db8:85a3:8d3::/64'],
    ['2001:0db8:0000:0001:ffff::2', '2001:db8:0:1::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['64:ff9b::198.51.100.1', '64:ff9b:0:0::/64'],
    ['unknown', 'unknown'],
  ])('keys %s as %s', (address, key) => {
    expect(clientNetwork(address)).toBe(key);
  });

  it('puts the hosts of one /64 under one key, and those of the next /64 under another', () => {
    expect(clientNetwork('2001:db8:1:2:aaaa::1')).toBe(clientNetwork('2001:db8:1:2:bbbb:cccc:dddd:eeee'));
    expect(clientNetwork('2001:db8:1:2::1')).not.toBe(clientNetwork('2001:db8:1:3::1'));
  });
});
