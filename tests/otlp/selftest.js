#!/usr/bin/env node
// selftest.js: checks receiver.js on its own (node selftest.js; exits non-zero on a failure).
// Encodes requests with the same generated protobuf code, posts them plain and gzipped, and
// checks the lines written, the scripted refusals, the Zipkin path and the throughput.
'use strict';

const http = require('http');
const fs = require('fs');
const os = require('os');
const path = require('path');
const zlib = require('zlib');
const { spawn } = require('child_process');
const assert = require('assert/strict');
const Long = require('long');

const root = require('@opentelemetry/otlp-transformer/build/src/generated/root');
const v1 = root.opentelemetry.proto.collector.trace.v1;
const Req = v1.ExportTraceServiceRequest;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otlp-selftest.'));
const out = path.join(dir, 'spans.jsonl');
const portFile = path.join(dir, 'port');
let child;

function post(port, p, body, headers = {}, timeout = 5000) {
	return new Promise((resolve, reject) => {
		const r = http.request({ host: '127.0.0.1', port, path: p, method: 'POST', headers, timeout }, (res) => {
			const c = [];
			res.on('data', (d) => c.push(d));
			res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(c) }));
		});
		r.on('timeout', () => { r.destroy(new Error('timeout')); });
		r.on('error', reject);
		r.end(body);
	});
}

function get(port, p) {
	return new Promise((resolve, reject) => {
		http.get({ host: '127.0.0.1', port, path: p }, (res) => {
			const c = [];
			res.on('data', (d) => c.push(d));
			res.on('end', () => resolve(JSON.parse(Buffer.concat(c))));
		}).on('error', reject);
	});
}

const lines = (f) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8').split('\n').filter(Boolean).map(JSON.parse) : []);
const PB = { 'content-type': 'application/x-protobuf' };
const sv = (s) => ({ stringValue: s });
const iv = (n) => ({ intValue: n });
const kv = (key, value) => ({ key, value });

function request(spans, service = 'svc') {
	return Buffer.from(Req.encode(Req.fromObject({
		resourceSpans: [{
			resource: { attributes: [kv('service.name', sv(service)), kv('host.name', sv('h1'))] },
			scopeSpans: [{ scope: { name: 'dbprobe', version: '1.2' }, spans }],
		}],
	})).finish());
}

const TID = Buffer.from('0102030405060708090a0b0c0d0e0f10', 'hex');
const ROOT = {
	traceId: TID, spanId: Buffer.from('1111111111111111', 'hex'), name: 'SELECT dbprobe',
	kind: 3, startTimeUnixNano: Long.fromString('1700000000123456789', true),
	endTimeUnixNano: Long.fromString('1700000000223456789', true),
	traceState: 'k=v', flags: 257,
	attributes: [kv('db.system.name', sv('postgresql')), kv('db.response.returned_rows', iv(42)),
		kv('big', iv(Long.fromString('-9007199254740993'))), kv('ok', { boolValue: true }),
		kv('d', { doubleValue: 1.5 }), kv('arr', { arrayValue: { values: [sv('a'), iv(1)] } })],
	status: { code: 2, message: 'boom' },
	events: [{ name: 'exception', timeUnixNano: 5, attributes: [kv('exception.type', sv('E'))] }],
};
const CHILD = {
	traceId: TID, spanId: Buffer.from('2222222222222222', 'hex'),
	parentSpanId: Buffer.from('1111111111111111', 'hex'), name: 'child', kind: 1,
	startTimeUnixNano: 1, endTimeUnixNano: 2,
};

async function main() {
	child = spawn(process.execPath, [path.join(__dirname, 'receiver.js'), '--port-file', portFile,
		'--out', out, '--script', '503r1,503'], { stdio: ['ignore', 'inherit', 'inherit'] });
	for (let i = 0; i < 100 && !fs.existsSync(portFile); i++) await new Promise((r) => setTimeout(r, 50));
	const port = Number(fs.readFileSync(portFile, 'utf8'));
	const body = request([ROOT, CHILD]);

	// Scripted refusals: 503 with Retry-After, 503 without, then success. Nothing written.
	let r = await post(port, '/v1/traces', body, PB);
	assert.equal(r.status, 503);
	assert.equal(r.headers['retry-after'], '1');
	r = await post(port, '/v1/traces', body, PB);
	assert.equal(r.status, 503);
	assert.equal(r.headers['retry-after'], undefined);
	assert.equal(lines(out).length, 0);

	// Plain.
	r = await post(port, '/v1/traces', body, { ...PB, 'x-tenant': 'acme' });
	assert.equal(r.status, 200);
	assert.equal(r.headers['content-type'], 'application/x-protobuf');
	assert.deepEqual(v1.ExportTraceServiceResponse.decode(r.body).toJSON(), {});
	let l = lines(out);
	assert.equal(l.length, 2);
	assert.deepEqual(l[0], {
		trace_id: '0102030405060708090a0b0c0d0e0f10', span_id: '1111111111111111', parent_span_id: '',
		name: 'SELECT dbprobe', kind: 3, start_ns: '1700000000123456789', end_ns: '1700000000223456789',
		status_code: 2, status_message: 'boom', trace_state: 'k=v', flags: 257,
		attributes: { 'db.system.name': 'postgresql', 'db.response.returned_rows': 42,
			big: '-9007199254740993', ok: true, d: 1.5, arr: ['a', 1] },
		resource: { 'service.name': 'svc', 'host.name': 'h1' }, scope: 'dbprobe', scope_version: '1.2',
		events: [{ name: 'exception', time_ns: '5', attributes: { 'exception.type': 'E' } }], links: [],
		dropped_attributes_count: 0, dropped_events_count: 0, dropped_links_count: 0,
		encoding: 'identity', request: 3,
	});
	assert.equal(l[1].parent_span_id, '1111111111111111');
	assert.equal(l[1].start_ns, '1');
	assert.equal(l[1].status_code, 0);

	// Gzipped.
	r = await post(port, '/v1/traces', zlib.gzipSync(body), { ...PB, 'content-encoding': 'gzip' });
	assert.equal(r.status, 200);
	l = lines(out);
	assert.equal(l.length, 4);
	assert.equal(l[2].encoding, 'gzip');
	assert.deepEqual({ ...l[2], encoding: 0, request: 0 }, { ...l[0], encoding: 0, request: 0 });

	// Bad bodies.
	r = await post(port, '/v1/traces', Buffer.from('\xff\xff\xff\xff garbage', 'latin1'), PB);
	assert.equal(r.status, 400);
	r = await post(port, '/v1/traces', Buffer.from('not gzip'), { ...PB, 'content-encoding': 'gzip' });
	assert.equal(r.status, 400);
	r = await post(port, '/v1/traces', body, { 'content-type': 'application/json' });
	assert.equal(r.status, 415);
	l = lines(out);
	assert.equal(l.length, 7);
	assert.ok(l.slice(4).every((x) => typeof x.error === 'string' && x.request > 0), JSON.stringify(l.slice(4)));

	// Control: down, then a reset and a hang, then back to normal.
	r = await post(port, '/control', JSON.stringify({ script: 'down' }));
	assert.equal(r.status, 200);
	for (let i = 0; i < 3; i++) assert.equal((await post(port, '/v1/traces', body, PB)).status, 503);
	await post(port, '/control', JSON.stringify({ script: 'reset,hang' }));
	await assert.rejects(post(port, '/v1/traces', body, PB), /ECONNRESET|socket hang up/);
	await assert.rejects(post(port, '/v1/traces', body, PB, 300), /^Error: timeout$/);
	assert.equal((await post(port, '/control', '{"script":"bogus"}')).status, 400);
	await post(port, '/control', JSON.stringify({ script: '' }));
	assert.equal((await post(port, '/v1/traces', body, PB)).status, 200);

	// Zipkin.
	const zs = [{ traceId: '0102030405060708', id: 'aa', name: 'q', kind: 'CLIENT', timestamp: 1700000000123456,
		duration: 5, localEndpoint: { serviceName: 'svc' }, tags: { 'db.system': 'postgresql' } }];
	r = await post(port, '/api/v2/spans', JSON.stringify(zs), { 'content-type': 'application/json' });
	assert.equal(r.status, 202);
	r = await post(port, '/api/v2/spans', zlib.gzipSync(JSON.stringify(zs)),
		{ 'content-type': 'application/json', 'content-encoding': 'gzip' });
	assert.equal(r.status, 202);
	assert.equal((await post(port, '/api/v2/spans', '{', { 'content-type': 'application/json' })).status, 400);
	l = lines(out).filter((x) => x.format === 'zipkin');
	assert.deepEqual(l[0], { format: 'zipkin', ...zs[0], encoding: 'identity', request: l[0].request });
	assert.equal(l[1].encoding, 'gzip');

	const reqs = lines(`${out}.requests`);
	assert.deepEqual(reqs.map((x) => x.n), reqs.map((_, i) => i + 1));
	assert.deepEqual(reqs.slice(0, 3).map((x) => x.status), [503, 503, 200]);
	assert.equal(reqs[2].headers['x-tenant'], 'acme');
	assert.equal(reqs[0].spans, 2);
	assert.equal(reqs[3].encoding, 'gzip');
	assert.equal(reqs[3].sha1, reqs[2].sha1);
	assert.deepEqual(reqs.slice(10, 12).map((x) => [x.status, x.action]), [[0, 'reset'], [0, 'hang']]);
	let st = await get(port, '/stats');
	assert.deepEqual(st, { requests: reqs.length, spans: 8, refused: 7, errors: 4 });

	// Throughput: 50 requests of 1000 spans each, 4 at a time.
	const big = [];
	for (let i = 0; i < 1000; i++) {
		big.push({ ...CHILD, spanId: Buffer.from(i.toString(16).padStart(16, '0'), 'hex'), name: `s${i}`,
			attributes: [kv('db.system.name', sv('postgresql')), kv('db.query.text', sv('SELECT * FROM t WHERE id = $1')),
				kv('server.port', iv(5432))] });
	}
	const bigBody = zlib.gzipSync(request(big));
	const t0 = process.hrtime.bigint();
	const pending = [];
	for (let i = 0; i < 50; i++) {
		pending.push(post(port, '/v1/traces', bigBody, { ...PB, 'content-encoding': 'gzip' }));
		if (pending.length === 4) assert.ok((await Promise.all(pending.splice(0))).every((x) => x.status === 200));
	}
	assert.ok((await Promise.all(pending)).every((x) => x.status === 200));
	const secs = Number(process.hrtime.bigint() - t0) / 1e9;
	st = await get(port, '/stats');
	assert.equal(st.spans, 8 + 50000);
	assert.equal(lines(out).filter((x) => x.name && x.name.startsWith('s')).length, 50000);
	console.log(`selftest: ok (50000 spans in ${secs.toFixed(2)} s, ${Math.round(50000 / secs)} spans/s)`);
}

main().then(() => 0, (e) => { console.error(e); return 1; }).then((rc) => {
	if (child) child.kill('SIGTERM');
	if (!process.env.KEEP) fs.rmSync(dir, { recursive: true, force: true });
	process.exitCode = rc;
});
