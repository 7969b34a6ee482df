#!/usr/bin/env node
// Starts a local PLC directory (in memory) and Bluesky's reference PDS, both on 127.0.0.1 only,
// for alertcast's channel tests. Ports are free ones picked here (ephemeral) unless PLC_PORT /
// PDS_PORT are set. When both answer, prints ONE line to stdout:
//   ALERTCAST_PDS_READY {"pds":"http://127.0.0.1:<port>","plc":"http://127.0.0.1:<port>",...}
// and runs until SIGTERM/SIGINT, then stops both and exits 0.
//
// Usage: node launcher.js <data-dir>   (the PDS's sqlite files and blobs go there)
// Run from the npm tree that scripts/install-pds.sh made (NODE_PATH or cwd = that tree).
'use strict'

const crypto = require('node:crypto')
const fs = require('node:fs')
const net = require('node:net')
const path = require('node:path')

const HOST = '127.0.0.1'

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, HOST, () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

// Both servers call `app.listen(port)`, which binds every interface: pin the host.
function bindLoopback(app) {
  const listen = app.listen.bind(app)
  app.listen = (port, ...rest) => listen(port, HOST, ...rest)
}

async function main() {
  const dataDir = path.resolve(process.argv[2] || process.env.PDS_DATA_DIRECTORY || 'pds-data')
  fs.mkdirSync(path.join(dataDir, 'blobs'), { recursive: true })

  const { PlcServer, Database } = require('@did-plc/server')
  const plcPort = Number(process.env.PLC_PORT) || (await freePort())
  const plc = PlcServer.create({ db: Database.mock(), port: plcPort })
  bindLoopback(plc.app)
  await plc.start()
  const plcUrl = `http://${HOST}:${plcPort}`

  const pdsPort = Number(process.env.PDS_PORT) || (await freePort())
  const defaults = {
    PDS_PORT: String(pdsPort),
    PDS_HOSTNAME: 'localhost',
    PDS_DEV_MODE: 'true',
    PDS_INVITE_REQUIRED: 'false',
    PDS_DID_PLC_URL: plcUrl,
    PDS_DATA_DIRECTORY: dataDir,
    PDS_BLOBSTORE_DISK_LOCATION: path.join(dataDir, 'blobs'),
    PDS_JWT_SECRET: crypto.randomBytes(16).toString('hex'),
    PDS_ADMIN_PASSWORD: crypto.randomBytes(16).toString('hex'),
    PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX: crypto.randomBytes(32).toString('hex'),
  }
  for (const [key, value] of Object.entries(defaults)) {
    if (key === 'PDS_PORT' || key === 'PDS_DID_PLC_URL' || !process.env[key]) process.env[key] = value
  }

  const pdsLib = require('@atproto/pds')
  const env = pdsLib.readEnv()
  const pds = await pdsLib.PDS.create(pdsLib.envToCfg(env), pdsLib.envToSecrets(env))
  bindLoopback(pds.app)
  await pds.start()

  let stopping = false
  const stop = async () => {
    if (stopping) return
    stopping = true
    try {
      await pds.destroy()
      await plc.destroy()
    } finally {
      process.exit(0)
    }
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)

  const ready = {
    pds: `http://${HOST}:${pdsPort}`,
    plc: plcUrl,
    pid: process.pid,
    // The admin password is a throwaway made above for this process; tests need it for
    // admin-only calls. It is printed on stdout only, never into alertcast's logs.
    admin_password: process.env.PDS_ADMIN_PASSWORD,
    jwt_secret: process.env.PDS_JWT_SECRET,
  }
  process.stdout.write(`ALERTCAST_PDS_READY ${JSON.stringify(ready)}\n`)
}

main().catch((error) => {
  process.stderr.write(`alertcast pds launcher failed: ${error && error.stack ? error.stack : error}\n`)
  process.exit(1)
})
