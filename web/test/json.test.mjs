// parseJson and stringifyJson (src/api/json.ts), compiled by `npm test` (tsc -p test) and run by
// `node --test`: integers beyond Number's safe range arrive and leave exactly; everything else is
// what JSON.parse and JSON.stringify make of it, with either way of reading.
import assert from "node:assert/strict";
import { test } from "node:test";

import { HAS_SOURCE_ACCESS, parseJson, stringifyJson } from "../node_modules/.cache/web-test/api/json.js";

const BIG = "123456789012345678901"; // 123.456789012345678901 LABEL in base units
const ways = [
  { name: "the tokenizer (engines without source text access)", options: { sourceAccess: false }, skip: false },
  {
    name: "the reviver's context.source",
    options: { sourceAccess: true },
    skip: HAS_SOURCE_ACCESS ? false : "this node has no JSON.parse source text access (node 21 has); the browser story reads amounts with it in Chromium",
  },
];

for (const { name, options, skip } of ways) {
  test(`${name}: an integer beyond the safe range is a bigint of exactly its digits`, { skip }, () => {
    const body = `{"reward_per_label": ${BIG}, "price_per_label": 250000, "funded": -${BIG}0, "nested": [{"x": 9007199254740993}]}`;
    assert.deepEqual(parseJson(body, options), {
      reward_per_label: 123456789012345678901n,
      price_per_label: 250000,
      funded: -1234567890123456789010n,
      nested: [{ x: 9007199254740993n }],
    });
    // the edges: the largest safe integer stays a number, the next one is a bigint
    assert.deepEqual(parseJson("[9007199254740991, 9007199254740992, -9007199254740991, -9007199254740992]", options), [
      9007199254740991, 9007199254740992n, -9007199254740991, -9007199254740992n,
    ]);
    // what JSON.parse rounds, for comparison
    assert.notEqual(BigInt(JSON.parse(BIG)), 123456789012345678901n);
  });

  test(`${name}: digits inside strings are text, and every other value is JSON.parse's`, { skip }, () => {
    const body = String.raw`{"name": "12345678901234567890 cats, \"quoted 99999999999999999999\" \\", "n": 1e30, "f": 12345678901234567890.5,
      "z": -0, "t": true, "no": false, "nil": null, "list": [], "o": {}, "u": "\u00e9\ud83d\ude00 ${BIG}", "__proto__": {"polluted": 1}}`;
    const parsed = parseJson(body, options);
    assert.deepEqual(parsed, JSON.parse(body));
    assert.equal(parsed.name, '12345678901234567890 cats, "quoted 99999999999999999999" \\');
    assert.equal(parsed.u, `é😀 ${BIG}`);
    assert.equal(typeof parsed.n, "number");
    assert.equal(typeof parsed.f, "number");
    assert.ok(Object.is(parsed.z, -0));
    // "__proto__" is a key like any other, as with JSON.parse: no prototype was set
    assert.equal(Object.getPrototypeOf(parsed), Object.prototype);
    assert.deepEqual(Object.getOwnPropertyDescriptor(parsed, "__proto__")?.value, { polluted: 1 });
  });

  test(`${name}: text that is not JSON is JSON.parse's SyntaxError`, { skip }, () => {
    for (const bad of [`{"a": ${BIG}`, `[${BIG},]`, `{"a": 0${BIG}}`, `"${BIG}`, "", `${BIG} 1`]) {
      assert.throws(() => parseJson(bad, options), SyntaxError, bad);
    }
  });

  test(`${name}: a large body parses exactly and as JSON.parse does elsewhere`, { skip }, () => {
    const rows = Array.from({ length: 2000 }, (_, i) => ({
      id: i,
      external_id: `item-${i}-${"7".repeat(20)}`,
      reward: `${BigInt(BIG) * BigInt(i + 1)}`,
      price: i * 1000,
      ok: i % 2 === 0,
    }));
    const body = "[" + rows.map((r) => `{"id":${r.id},"external_id":${JSON.stringify(r.external_id)},"reward":${r.reward},"price":${r.price},"ok":${r.ok}}`).join(",\n ") + "]";
    const parsed = parseJson(body, options);
    assert.deepEqual(
      parsed,
      rows.map((r) => ({ ...r, reward: BigInt(r.reward) })),
    );
  });
}

test("a body with no run of 16 digits is JSON.parse's own result", () => {
  const body = '{"a": [1, 2.5, "x"], "b": null}';
  assert.deepEqual(parseJson(body), JSON.parse(body));
});

test("stringifyJson writes a bigint as its exact literal, and the rest as JSON.stringify", () => {
  const body = { reward_per_label: 123456789012345678n, price_per_label: 250000, name: "1e3 \"x\"", list: [1n, undefined, () => 1], skip: undefined, when: new Date(0), nested: { deep: [[-5n]] } };
  assert.equal(
    stringifyJson(body),
    '{"reward_per_label":123456789012345678,"price_per_label":250000,"name":"1e3 \\"x\\"","list":[1,null,null],"when":"1970-01-01T00:00:00.000Z","nested":{"deep":[[-5]]}}',
  );
  const plain = { a: [1, { b: "c", d: [] }, {}], e: null, f: true, g: "ü\n" };
  for (const indent of [0, 2, 4]) assert.equal(stringifyJson(plain, indent), JSON.stringify(plain, null, indent));
  // round trip: what is written is read back exactly, either way of reading
  const exact = { amounts: [123456789012345678901n, 9007199254740993n, 7] };
  assert.deepEqual(parseJson(stringifyJson(exact, 2), { sourceAccess: false }), exact);
  if (HAS_SOURCE_ACCESS) assert.deepEqual(parseJson(stringifyJson(exact), { sourceAccess: true }), exact);
  assert.throws(() => stringifyJson(undefined), TypeError);
});
