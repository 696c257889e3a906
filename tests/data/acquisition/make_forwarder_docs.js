// Builds data-acquisition JSON documents the way the edge-impulse-cli data forwarder does:
// a JS object {protected, signature (64 '0'), payload}, JSON.stringify (no spaces), HMAC-SHA256
// over that text with the key string, hex digest put in `signature`, JSON.stringify again.
// Usage: node make_forwarder_docs.js <out_dir>   (writes forwarder_*.json + keys.json)
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

function unitsFor(name) {
    if (name.startsWith('acc')) return 'm/s2';
    if (name === 'audio') return 'wav';
    return 'N/A';
}

function forwarderDoc(deviceId, frequency, axes, values, hmacKey, iat) {
    const data = {
        protected: { ver: 'v1', alg: 'HS256', iat: iat },
        signature: '0'.repeat(64),
        payload: {
            device_name: deviceId,
            device_type: 'DATA_FORWARDER',
            interval_ms: 1000 / frequency,
            sensors: axes.map(a => ({ name: a, units: unitsFor(a) })),
            values: values,
        },
    };
    const unsigned = JSON.stringify(data);
    data.signature = crypto.createHmac('sha256', hmacKey).update(unsigned).digest('hex');
    return JSON.stringify(data);
}

const out = process.argv[2] || '.';
// keys: a 32-char hex-looking key (used as text, not hex-decoded), and a 40-char one that the
// firmware would truncate (the CLI does not).
const cases = [
    ['forwarder_acc.json', '5e:a1:00:00:00:01', 62.5, ['accX', 'accY', 'accZ'],
     [[-0.13, -6.2, 7.9], [0.5, 1.1, 9.81], [-0.0, 1e-7, 1e21], [123456.789, -1.5e-7, 2]],
     'fed53116f20684c067774ebf9e7bcbdc', 1700000000],
    ['forwarder_temp.json', 'my-device', 3, ['temp'],
     [[21.5], [21.625], [0.000001], [1e-320]],
     'a-key-longer-than-thirty-two-characters!', 1600000000],
];
const keys = {};
for (const [name, dev, freq, axes, values, key, iat] of cases) {
    fs.writeFileSync(path.join(out, name), forwarderDoc(dev, freq, axes, values, key, iat));
    keys[name] = key;
}
fs.writeFileSync(path.join(out, 'keys.json'), JSON.stringify(keys, null, 1) + '\n');
