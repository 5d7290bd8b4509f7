import { ReleasedBacklog } from './released-backlog.js';

describe('ReleasedBacklog', () => {
  it('counts the released bytes still unread as the buffer drains in order: what was ahead first, then them', () => {
    const backlog = new ReleasedBacklog();
    backlog.begin(100); // 100 bytes waiting before the release
    backlog.wrote(300, true);
    backlog.wrote(300, true);
    expect(backlog.unread(700)).toBe(600); // nothing read yet
    expect(backlog.unread(650)).toBe(600); // reading what was ahead
    expect(backlog.unread(400)).toBe(400); // what was ahead, and 200 of the released, read
    backlog.wrote(50, false); // a new frame after them
    expect(backlog.unread(450)).toBe(400);
    expect(backlog.unread(60)).toBe(10); // the last 10 released bytes, then the new frame
    expect(backlog.unread(50)).toBe(0);
  });

  it('joins a second release to what is unread of the first, never counting less than is unread', () => {
    const backlog = new ReleasedBacklog();
    backlog.begin(0);
    backlog.wrote(500, true);
    expect(backlog.unread(400)).toBe(400);
    backlog.wrote(80, false); // a live frame between the two releases
    backlog.begin(480);
    backlog.wrote(200, true);
    expect(backlog.unread(680)).toBe(600); // 400 of the first and 200 of the second
    // The first's rest read: 200 of the second are unread, and the frame between is counted as
    // released too (ahead of both, it is known only as part of the 480 at the second begin).
    expect(backlog.unread(280)).toBe(280);
    expect(backlog.unread(200)).toBe(200);
    expect(backlog.unread(0)).toBe(0);
  });
});
