// An independent BEP 44/46 reader: WebTorrent's DHT (bittorrent-dht)
// resolves a hostless site's pointer on a loopback DHT, verifying the item's
// ed25519 signature with Node's own crypto, and prints JSON
// {seq, info_hash, ws}; exits 1 if nothing verified is found.
//
// usage: node resolve.mjs PUBKEY_HEX BOOTSTRAP_PORT [TIMEOUT_S]
import crypto from 'node:crypto'
import DHT from 'bittorrent-dht'

const [keyHex, bootPort, timeoutS = '20'] = process.argv.slice(2)
const key = Buffer.from(keyHex, 'hex')
if (key.length !== 32 || !bootPort) {
  console.error('usage: node resolve.mjs PUBKEY_HEX BOOTSTRAP_PORT [TIMEOUT_S]')
  process.exit(2)
}

// bittorrent-dht takes items whose signature `verify` accepts (none without it).
// The signed messages it accepted are kept by signature, to check below that
// the answer is one of them.
const accepted = new Map()
function ed25519Verify (sig, message, publicKey) {
  const k = crypto.createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey).toString('base64url') },
    format: 'jwk'
  })
  return crypto.verify(null, Buffer.from(message), k, Buffer.from(sig))
}
function verify (sig, message, publicKey) {
  const ok = ed25519Verify(sig, message, publicKey)
  if (ok) accepted.set(Buffer.from(sig).toString('hex'), Buffer.from(message))
  return ok
}

// Whether res went through verify: its signature was accepted for its key,
// and the same signature with one bit flipped is not.
function verified (res) {
  if (!res.sig || res.sig.length !== 64) return false
  const message = accepted.get(Buffer.from(res.sig).toString('hex'))
  if (!message) return false
  const flipped = Buffer.from(res.sig)
  flipped[0] ^= 1
  return ed25519Verify(res.sig, message, key) && !ed25519Verify(flipped, message, key)
}

const dht = new DHT({ bootstrap: ['127.0.0.1:' + bootPort], verify })
const target = crypto.createHash('sha1').update(key).digest()
const deadline = Date.now() + Number(timeoutS) * 1000
const text = (b) => Buffer.from(b).toString()

function finish (code, out) {
  if (out) console.log(JSON.stringify(out))
  dht.destroy()
  process.exit(code)
}

function look () {
  // cache: false: ask the DHT each time, not this node's own store.
  dht.get(target, { cache: false }, (err, res) => {
    if (!err && res && res.v && res.v.ih && res.k && Buffer.from(res.k).equals(key)) {
      if (!verified(res)) {
        console.error('an answer whose signature was not checked')
        return finish(1)
      }
      return finish(0, {
        seq: res.seq,
        info_hash: Buffer.from(res.v.ih).toString('hex'),
        ws: (res.v.ws || []).map(text)
      })
    }
    if (Date.now() > deadline) {
      console.error(err ? 'lookup failed: ' + err.message : 'no pointer found')
      return finish(1)
    }
    setTimeout(look, 1000)
  })
}

dht.on('error', (err) => { console.error('dht: ' + err.message); finish(1) })
dht.on('ready', look)
