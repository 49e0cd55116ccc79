// Make a DPoP proof with an independent implementation (panva/dpop), so the
// Python tests can check that Authsome's verifier accepts proofs it did not make.
//
//   node tests/node/make_dpop_proof.mjs <url> [method] [body]
//
// Prints one JSON object: {"proof", "htu", "htm", "jkt"}. The key pair is new
// each run and never leaves this process. With a body, the proof carries
// bsh = base64url(SHA-256(body as UTF-8)), Authsome's extra claim.
import { calculateThumbprint, generateKeyPair, generateProof } from "dpop";

const [url, htm = "GET", body] = process.argv.slice(2);
if (!url) {
  console.error("usage: make_dpop_proof.mjs <url> [method] [body]");
  process.exit(2);
}

// RFC 9449: htu is the target URI without query and fragment.
const target = new URL(url);
target.search = "";
target.hash = "";
const htu = target.href;

const base64url = (bytes) => Buffer.from(bytes).toString("base64url");

const keyPair = await generateKeyPair("Ed25519");
const additional = {};
if (body !== undefined && body !== "") {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body));
  additional.bsh = base64url(new Uint8Array(digest));
}
const proof = await generateProof(keyPair, htu, htm, undefined, undefined, additional);
const jkt = await calculateThumbprint(keyPair.publicKey);

process.stdout.write(JSON.stringify({ proof, htu, htm, jkt }) + "\n");
