/**
 * The ceiling: a chat relay built from `ws` alone, speaking Parley's frame shapes
 * (`send_message` → `message_ack` to the sender + `new_message` to every connection of every room
 * member) with no authentication, no validation beyond JSON.parse and no storage. The bench runs
 * it as a child process, exactly like Parley, so both pay the same process and loopback costs.
 *
 *   PORT=4100 node dist/bench/bare-relay.js
 *
 * The bearer token is taken as the user id unverified; rooms are posted once by the bench to
 * `POST /bench/rooms { rooms: { <chatId>: [userId, …] } }`; seq is an in-memory counter per room.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';

interface Room {
  members: string[];
  seq: number;
}

const rooms = new Map<string, Room>();
const socketsByUser = new Map<string, Set<WebSocket>>();

const server = createServer((req, res) => {
  if (req.method === 'GET' && (req.url === '/health' || req.url === '/health/ready')) return json(res, 200, { status: 'ok' });
  if (req.method === 'POST' && req.url === '/bench/rooms') return void readRooms(req, res);
  json(res, 404, { statusCode: 404, error: 'Not Found', code: 'NOT_FOUND', message: `${req.method} ${req.url}` });
});

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 64 * 1024 });

server.on('upgrade', (req, socket, head) => {
  const userId = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
  if (!req.url?.startsWith('/ws') || !userId) {
    socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, userId));
});

function onConnection(ws: WebSocket, userId: string): void {
  let own = socketsByUser.get(userId);
  if (!own) socketsByUser.set(userId, (own = new Set()));
  own.add(ws);
  ws.on('close', () => {
    own.delete(ws);
    if (own.size === 0) socketsByUser.delete(userId);
  });
  ws.on('error', () => ws.terminate());
  ws.on('message', (data, isBinary) => onFrame(ws, userId, data, isBinary));
  ws.send(JSON.stringify({ type: 'ready', userId, sessionId: userId }));
}

function onFrame(ws: WebSocket, userId: string, data: RawData, isBinary: boolean): void {
  let frame: { type?: string; id?: string; chatId?: string; text?: string; clientId?: string };
  try {
    if (isBinary) throw new Error('binary');
    frame = JSON.parse(data.toString());
  } catch {
    return sendError(ws, 400, 'BAD_FRAME', 'frames are JSON text');
  }
  if (frame.type === 'ping') return ws.send(JSON.stringify({ type: 'pong', id: frame.id }));
  if (frame.type !== 'send_message') return sendError(ws, 400, 'UNKNOWN_TYPE', `unknown type ${frame.type}`, frame.id);
  const room = frame.chatId === undefined ? undefined : rooms.get(frame.chatId);
  if (!room) return sendError(ws, 404, 'CHAT_NOT_FOUND', 'no such room', frame.id);

  const message = {
    id: randomUUID(),
    chatId: frame.chatId,
    seq: ++room.seq,
    senderId: userId,
    clientId: frame.clientId ?? null,
    text: frame.text,
    createdAt: new Date().toISOString(),
    editedAt: null,
    deletedAt: null,
  };
  ws.send(JSON.stringify({ type: 'message_ack', id: frame.id, clientId: message.clientId, message }));
  const broadcast = JSON.stringify({ type: 'new_message', message });
  if (FAULT && message.seq % 500 === 0) return injectFault(room, broadcast);
  for (const member of room.members) {
    const sockets = socketsByUser.get(member);
    if (sockets) for (const socket of sockets) socket.send(broadcast);
  }
  const late = held.get(room);
  if (late) {
    held.delete(room);
    for (const socket of socketsByUser.get(room.members[room.members.length - 1]) ?? []) socket.send(late);
  }
}

/**
 * BENCH_BARE_FAULT=drop|duplicate|reorder makes every 500th message of a room go wrong, to show
 * that the bench's correctness gate catches it (the run must then exit 1).
 */
const FAULT = process.env.BENCH_BARE_FAULT as 'drop' | 'duplicate' | 'reorder' | undefined;
const held = new Map<Room, string>();

function injectFault(room: Room, broadcast: string): void {
  const last = room.members[room.members.length - 1];
  for (const member of room.members) {
    for (const socket of socketsByUser.get(member) ?? []) {
      if (FAULT === 'drop' && member === last) continue;
      if (FAULT === 'reorder' && member === last) {
        held.set(room, broadcast);
        continue;
      }
      socket.send(broadcast);
      if (FAULT === 'duplicate' && member === last) socket.send(broadcast);
    }
  }
}

function sendError(ws: WebSocket, statusCode: number, code: string, message: string, id?: string): void {
  ws.send(JSON.stringify({ type: 'error', statusCode, code, message, id }));
}

async function readRooms(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  try {
    const body = JSON.parse(Buffer.concat(chunks).toString()) as { rooms: Record<string, string[]> };
    for (const [chatId, members] of Object.entries(body.rooms)) rooms.set(chatId, { members, seq: 0 });
    res.writeHead(204).end();
  } catch (error) {
    json(res, 400, { statusCode: 400, error: 'Bad Request', code: 'BAD_ROOMS', message: String(error) });
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

// An orderly exit, so that `node --cpu-prof` writes its profile.
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    for (const client of wss.clients) client.terminate();
    server.close();
    process.exit(0);
  });
}

const port = Number(process.env.PORT ?? 4100);
server.listen(port, '127.0.0.1', () => process.stdout.write(`bare relay listening on 127.0.0.1:${port}\n`));
