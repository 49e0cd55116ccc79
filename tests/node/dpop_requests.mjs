// Sign several requests with ONE key pair made by an independent DPoP
// implementation (panva/dpop), so a test can register that key with the
// daemon and then use it.
//
//   node tests/node/dpop_requests.mjs '[["POST","http://…/identities","{}"],["GET","http://…/whoami"]]'
//
// Prints {"proofs": [...]} in the order given. Bodies get Authsome's bsh claim.
import { generateKeyPair, generateProof } from "dpop";

const requests = JSON.parse(process.argv[2] ?? "[]");
const keyPair = await generateKeyPair("Ed25519");
const proofs = [];
for (const [method, url, body] of requests) {
  const additional = {};
  if (body) {
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body));
    additional.bsh = Buffer.from(new Uint8Array(digest)).toString("base64url");
  }
  proofs.push(await generateProof(keyPair, url, method, undefined, undefined, additional));
}
process.stdout.write(JSON.stringify({ proofs }) + "\n");
