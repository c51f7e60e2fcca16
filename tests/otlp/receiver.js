#!/usr/bin/env node
// receiver.js: the trace tests' collector. It decodes what the exporter pushes with an
// implementation independent of ours: the protobufjs code generated from the OpenTelemetry
// protos that @opentelemetry/otlp-transformer ships (see package.json for the pinned versions).
//
//   node receiver.js --port-file FILE --out OUT.jsonl [--script SPEC] [--port N] [--first-request N]
//
// Listens on 127.0.0.1 (an ephemeral port unless --port) and writes the port to FILE (tmp file
// then rename) once listening.
//   POST /v1/traces      OTLP/HTTP protobuf (Content-Encoding gzip or none): one JSON line per
//                        span into OUT; 200 with an empty ExportTraceServiceResponse.
//   POST /api/v2/spans   Zipkin v2 JSON: one line per span, {"format":"zipkin", ...span}; 202.
//   POST /control        {"script":"SPEC"}: replaces the script (and restarts it).
//   GET  /stats          {"requests","spans","refused","errors"}.
// Every request but /control and /stats is also logged as one JSON line into OUT.requests.
// A body that cannot be decoded: 400 (415 for an unknown content type or encoding), and a line
// {"error": ...} in OUT.
//
// SPEC: comma-separated answers for the successive data requests, then normal success:
//   503 (any status code) | 503r1 (with Retry-After: 1) | ok | 200 (normal success)
//   down (503 to every request from then on; downr2 adds Retry-After: 2)
//   hang (never answers; the request stays open) | reset (closes the connection, no answer)
// Spans of refused requests are not written to OUT (only counted in OUT.requests).
'use strict';

const http = require('http');
const fs = require('fs');
const zlib = require('zlib');
const crypto = require('crypto');

const root = require('@opentelemetry/otlp-transformer/build/src/generated/root');
const traceV1 = root.opentelemetry.proto.collector.trace.v1;
const ExportTraceServiceRequest = traceV1.ExportTraceServiceRequest;
const ExportTraceServiceResponse = traceV1.ExportTraceServiceResponse;
const EMPTY_RESPONSE = Buffer.from(
	ExportTraceServiceResponse.encode(ExportTraceServiceResponse.create({})).finish());

function usage(msg) {
	if (msg) process.stderr.write(`receiver: ${msg}\n`);
	process.stderr.write('usage: receiver.js --port-file FILE --out OUT.jsonl [--script SPEC] ' +
		'[--port N] [--first-request N]\n');
	process.exit(2);
}

const opt = { portFile: null, out: null, script: '', port: 0, firstRequest: 1 };
{
	const a = process.argv.slice(2);
	for (let i = 0; i < a.length; i++) {
		const val = () => (i + 1 < a.length ? a[++i] : usage(`${a[i]} needs a value`));
		switch (a[i]) {
		case '--port-file': opt.portFile = val(); break;
		case '--out': opt.out = val(); break;
		case '--script': opt.script = val(); break;
		case '--port': opt.port = Number(val()); break;
		case '--first-request': opt.firstRequest = Number(val()); break;
		default: usage(`unknown argument ${a[i]}`);
		}
	}
	if (!opt.portFile || !opt.out) usage('--port-file and --out are required');
	if (!Number.isInteger(opt.port) || opt.port < 0 || opt.port > 65535) usage('bad --port');
	if (!Number.isInteger(opt.firstRequest) || opt.firstRequest < 1) usage('bad --first-request');
}

// ---- script -------------------------------------------------------------------------------

// parseScript SPEC: [{action: 'ok'|'status'|'hang'|'reset', code, retryAfter, sticky}]; throws.
function parseScript(spec) {
	const steps = [];
	for (const raw of String(spec).split(',')) {
		const t = raw.trim().toLowerCase();
		if (t === '') continue;
		const m = /^(ok|down|hang|reset|[1-5]\d\d)(?:r(\d+))?$/.exec(t);
		if (!m) throw new Error(`bad script item '${raw}'`);
		const retryAfter = m[2] === undefined ? null : Number(m[2]);
		if (m[1] === 'ok') steps.push({ action: 'ok' });
		else if (m[1] === 'down') steps.push({ action: 'status', code: 503, retryAfter, sticky: true });
		else if (m[1] === 'hang' || m[1] === 'reset') steps.push({ action: m[1] });
		else {
			const code = Number(m[1]);
			if (code >= 200 && code < 300) steps.push({ action: 'ok' });
			else steps.push({ action: 'status', code, retryAfter });
		}
	}
	return steps;
}

let script;
try {
	script = { spec: opt.script, steps: parseScript(opt.script), pos: 0 };
} catch (e) {
	usage(e.message);
}

function nextStep() {
	if (script.pos >= script.steps.length) return { action: 'ok' };
	const s = script.steps[script.pos];
	if (!s.sticky) script.pos++;
	return s;
}

// ---- output -------------------------------------------------------------------------------

const outFd = fs.openSync(opt.out, 'a');
const reqFd = fs.openSync(`${opt.out}.requests`, 'a');
const stats = { requests: 0, spans: 0, refused: 0, errors: 0 };
let requestNo = opt.firstRequest - 1;

// One write per request: a reader sees a request's spans together, and all of them are on
// disk before the exporter gets its answer.
function writeLines(fd, lines) {
	if (lines.length) fs.writeSync(fd, lines.join('\n') + '\n');
}

// ---- OTLP -> JSON -------------------------------------------------------------------------

function hex(b) {
	if (!b || b.length === 0) return '';
	return (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.length)).toString('hex');
}

// u64 fixed64 nanoseconds (a Long, or a number without the long package) -> exact decimal.
function u64(v) {
	if (v === null || v === undefined) return '0';
	return typeof v === 'number' ? String(v) : v.toString();
}

// int64 attribute: a number when exactly representable, else its decimal string.
function i64(v) {
	if (typeof v === 'number') return v;
	const n = v.toNumber();
	return Number.isSafeInteger(n) ? n : v.toString();
}

function anyValue(v) {
	if (!v) return null;
	switch (v.value) {
	case 'stringValue': return v.stringValue;
	case 'boolValue': return v.boolValue;
	case 'intValue': return i64(v.intValue);
	case 'doubleValue': return v.doubleValue;
	case 'arrayValue': return (v.arrayValue.values || []).map(anyValue);
	case 'kvlistValue': return attrs(v.kvlistValue.values).obj;
	case 'bytesValue': return hex(v.bytesValue);
	default: return null;
	}
}

// attrs KEYVALUES: {obj: {key: value}, dups: [keys seen twice]} (the last value wins).
function attrs(kvs) {
	const obj = {};
	let dups = null;
	for (const kv of kvs || []) {
		const k = kv.key || '';
		if (Object.prototype.hasOwnProperty.call(obj, k)) (dups = dups || []).push(k);
		obj[k] = anyValue(kv.value);
	}
	return { obj, dups };
}

function spanLine(s, resource, scope, encoding, n) {
	const a = attrs(s.attributes);
	const line = {
		trace_id: hex(s.traceId),
		span_id: hex(s.spanId),
		parent_span_id: hex(s.parentSpanId),
		name: s.name || '',
		kind: s.kind || 0,
		start_ns: u64(s.startTimeUnixNano),
		end_ns: u64(s.endTimeUnixNano),
		status_code: (s.status && s.status.code) || 0,
		status_message: (s.status && s.status.message) || '',
		trace_state: s.traceState || '',
		flags: s.flags || 0,
		attributes: a.obj,
		resource,
		scope: (scope && scope.name) || '',
		scope_version: (scope && scope.version) || '',
		events: (s.events || []).map((e) => ({
			name: e.name || '', time_ns: u64(e.timeUnixNano), attributes: attrs(e.attributes).obj,
		})),
		links: (s.links || []).map((l) => ({
			trace_id: hex(l.traceId), span_id: hex(l.spanId), trace_state: l.traceState || '',
			flags: l.flags || 0, attributes: attrs(l.attributes).obj,
		})),
		dropped_attributes_count: s.droppedAttributesCount || 0,
		dropped_events_count: s.droppedEventsCount || 0,
		dropped_links_count: s.droppedLinksCount || 0,
		encoding,
		request: n,
	};
	if (a.dups) line.duplicate_attributes = a.dups;
	return line;
}

// decodeOtlp BODY ENCODING N: {lines, spans}; throws on a bad body.
function decodeOtlp(body, encoding, n) {
	const msg = ExportTraceServiceRequest.decode(body);
	const lines = [];
	for (const rs of msg.resourceSpans || []) {
		const resource = attrs(rs.resource && rs.resource.attributes).obj;
		for (const ss of rs.scopeSpans || []) {
			for (const s of ss.spans || [])
				lines.push(JSON.stringify(spanLine(s, resource, ss.scope, encoding, n)));
		}
	}
	return { lines, spans: lines.length };
}

function decodeZipkin(body, encoding, n) {
	const arr = JSON.parse(body.toString('utf8'));
	if (!Array.isArray(arr)) throw new Error('zipkin body is not a JSON array');
	const lines = arr.map((s) => {
		if (s === null || typeof s !== 'object' || Array.isArray(s))
			throw new Error('zipkin span is not an object');
		return JSON.stringify({ format: 'zipkin', ...s, encoding, request: n });
	});
	return { lines, spans: lines.length };
}

// ---- HTTP ---------------------------------------------------------------------------------

const DATA = {
	'/v1/traces': { type: /^application\/x-protobuf\s*(;|$)/i, decode: decodeOtlp, ok: 200 },
	'/api/v2/spans': { type: /^application\/json\s*(;|$)/i, decode: decodeZipkin, ok: 202 },
};
const hanging = new Set();

function reply(res, code, headers, body) {
	res.writeHead(code, { ...headers, 'content-length': body ? body.length : 0 });
	res.end(body);
}

function replyJson(res, code, obj) {
	reply(res, code, { 'content-type': 'application/json' }, Buffer.from(JSON.stringify(obj) + '\n'));
}

function handle(req, res, body) {
	const path = req.url.split('?')[0];
	if (path === '/stats' && req.method === 'GET') return replyJson(res, 200, stats);
	if (path === '/control' && req.method === 'POST') {
		try {
			const spec = String(JSON.parse(body.toString('utf8')).script ?? '');
			script = { spec, steps: parseScript(spec), pos: 0 };
			return replyJson(res, 200, { script: spec });
		} catch (e) {
			return replyJson(res, 400, { error: e.message });
		}
	}

	const n = ++requestNo;
	stats.requests++;
	const ce = String(req.headers['content-encoding'] || 'identity').trim().toLowerCase();
	const ctype = req.headers['content-type'] || '';
	const rec = {
		n, path, method: req.method, status: 0, encoding: ce, content_type: ctype,
		bytes: body.length, decoded_bytes: null, spans: null, sha1: null, headers: req.headers,
	};
	const done = (status, lines, extra) => {
		rec.status = status;
		Object.assign(rec, extra);
		writeLines(outFd, lines);
		writeLines(reqFd, [JSON.stringify(rec)]);
	};
	const bad = (status, error) => {
		stats.errors++;
		done(status, [JSON.stringify({ error, request: n, path })]);
		replyJson(res, status, { error });
	};

	const ep = DATA[path];
	if (!ep || req.method !== 'POST') {
		done(404, []);
		return reply(res, 404, {}, null);
	}

	// The answer is chosen before decoding: a refused request consumes its script step even
	// when its body is bad.
	const step = nextStep();

	let decoded = null;
	let error = null;
	if (ce !== 'identity' && ce !== 'gzip') error = [415, `unsupported content-encoding '${ce}'`];
	else if (!ep.type.test(ctype)) error = [415, `unexpected content-type '${ctype}'`];
	else {
		let raw = body;
		try {
			if (ce === 'gzip') raw = zlib.gunzipSync(body);
			rec.decoded_bytes = raw.length;
			rec.sha1 = crypto.createHash('sha1').update(raw).digest('hex');
			decoded = ep.decode(raw, ce, n);
			rec.spans = decoded.spans;
		} catch (e) {
			error = [400, `cannot decode ${path} body: ${e.message}`];
		}
	}

	if (step.action === 'ok') {
		if (error) return bad(error[0], error[1]);
		stats.spans += decoded.spans;
		done(ep.ok, decoded.lines);
		if (path === '/v1/traces')
			return reply(res, 200, { 'content-type': 'application/x-protobuf' }, EMPTY_RESPONSE);
		return reply(res, ep.ok, {}, null);
	}
	stats.refused++;
	if (step.action === 'status') {
		done(step.code, []);
		const h = step.retryAfter === null ? {} : { 'retry-after': String(step.retryAfter) };
		return reply(res, step.code, h, null);
	}
	done(0, [], { action: step.action });
	if (step.action === 'reset') return req.socket.destroy();
	hanging.add(res);              // 'hang': left unanswered until the client gives up
	res.on('close', () => hanging.delete(res));
}

const server = http.createServer((req, res) => {
	const chunks = [];
	req.on('data', (c) => chunks.push(c));
	req.on('end', () => {
		try {
			handle(req, res, Buffer.concat(chunks));
		} catch (e) {
			process.stderr.write(`receiver: ${e.stack}\n`);
			if (!res.headersSent) replyJson(res, 500, { error: e.message });
		}
	});
});
// Idle keep-alive connections stay up longer than the exporter is likely to keep them, so that
// the receiver closing one is not what the tests see.
server.keepAliveTimeout = 120000;
server.headersTimeout = 125000;
server.requestTimeout = 0;

server.on('error', (e) => {
	process.stderr.write(`receiver: ${e.message}\n`);
	process.exit(1);
});

server.listen(opt.port, '127.0.0.1', () => {
	const tmp = `${opt.portFile}.tmp.${process.pid}`;
	fs.writeFileSync(tmp, `${server.address().port}\n`);
	fs.renameSync(tmp, opt.portFile);
});

function stop() {
	for (const res of hanging) res.destroy();
	server.close();
	server.closeAllConnections();
	process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
