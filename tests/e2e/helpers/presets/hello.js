// For the nodejs preset: the application of a spec "from: preset:nodejs".
const crypto = require('crypto');
const tls = require('tls');
const zlib = require('zlib');
console.log('hello from node ' + process.version);
console.log('sha256=' + crypto.createHash('sha256').update('abc').digest('hex'));
console.log('roots=' + (tls.rootCertificates.length > 100 ? 'many' : tls.rootCertificates.length));
console.log('gzip=' + zlib.gunzipSync(zlib.gzipSync('round trip')).toString());
console.log('intl=' + new Intl.NumberFormat('de-DE').format(1234567.5));
try {
  require('child_process').execSync('true');
  console.log('shell=present');
} catch (e) {
  console.log('shell=' + e.code);
}
