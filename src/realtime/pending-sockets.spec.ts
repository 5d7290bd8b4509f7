import { addressKey, PendingSockets } from './pending-sockets.js';

describe('PendingSockets', () => {
  it('counts up to the limit per address and frees a place on release', () => {
    const pending = new PendingSockets(2);
    expect([pending.take('a'), pending.take('a'), pending.take('a'), pending.take('b')]).toEqual([true, true, false, true]);
    pending.release('a');
    expect([pending.countFor('a'), pending.take('a'), pending.take('a')]).toEqual([1, true, false]);
    pending.release('b');
    pending.release('b'); // once too often: nothing to go below
    expect(pending.countFor('b')).toBe(0);
  });
});

describe('addressKey', () => {
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
    expect(addressKey(address)).toBe(key);
  });

  it('puts the hosts of one /64 under one key, and those of the next /64 under another', () => {
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe(addressKey('2001:db8:1:2:bbbb:cccc:dddd:eeee'));
    expect(addressKey('2001:db8:1:2::1')).not.toBe(addressKey('2001:db8:1:3::1'));
  });
});
