"""The shared assessment vectors, and the rest of the exported surface,
through the generated Python module.

Run after mobile-bindings/generate.sh:
    python3 mobile-bindings/tests/python/test_bindings.py
BINDINGS_DIR selects the generated sources (default target/bindings).
"""

import glob
import json
import os
import sys
import unittest
from datetime import datetime, timezone

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
BINDINGS = os.environ.get("BINDINGS_DIR", os.path.join(ROOT, "target", "bindings"))
sys.path.insert(0, os.path.join(BINDINGS, "python"))

import whereabouts_mobile as wm  # noqa: E402

VECTORS = sorted(glob.glob(os.path.join(ROOT, "tests", "vectors", "*.json")))
# Cases a real server answered (tests/e2e/parity.rs with WHEREABOUTS_PARITY_OUT).
PARITY_DIR = os.environ.get("PARITY_DIR")
PARITY = sorted(glob.glob(os.path.join(PARITY_DIR, "*.json"))) if PARITY_DIR else []
DEFAULT_SETTINGS = {"home_code": "110000", "time_zone": "Asia/Shanghai"}
DEFAULT_ORG = {"units": [], "accounts": [], "role_grants": []}


def snapshot_json(vector_input):
    """The policy snapshot a server would hand this filer: the vector's input
    without the draft, the time and the language."""
    return json.dumps({
        "schema_version": 1,
        "settings": vector_input.get("settings", DEFAULT_SETTINGS),
        "profile": vector_input["profile"],
        "org": vector_input.get("org", DEFAULT_ORG),
        "policy": vector_input.get("policy"),
        "special_periods": vector_input.get("special_periods", []),
        "calendar": vector_input.get("calendar", {"years": []}),
        "generated_at": "2026-01-01T00:00:00Z",
    })


def normalise(assessment):
    """Messages dropped, issues in any order, timestamps as instants
    (tests/vectors/README.md)."""
    value = dict(assessment)
    for key in ("errors", "warnings"):
        items = [{k: v for k, v in item.items() if k != "message"} for item in value.get(key, [])]
        value[key] = sorted(items, key=lambda i: json.dumps(i, sort_keys=True))
    for key in ("submit_by", "return_report_due"):
        if value.get(key):
            value[key] = datetime.fromisoformat(value[key]).astimezone(timezone.utc).isoformat()
    return value


def lang_of(vector_input):
    return wm.Lang.EN if vector_input.get("lang") == "en" else wm.Lang.ZH_CN


class Vectors(unittest.TestCase):
    def test_there_are_vectors(self):
        self.assertGreaterEqual(len(VECTORS), 88)

    def test_every_vector(self):
        self.run_cases(VECTORS)

    @unittest.skipUnless(PARITY_DIR, "PARITY_DIR is not set")
    def test_every_case_a_real_server_answered(self):
        self.assertGreater(len(PARITY), 0)
        self.run_cases(PARITY)

    def run_cases(self, paths):
        for path in paths:
            with self.subTest(vector=os.path.basename(path)):
                with open(path, encoding="utf-8") as f:
                    vector = json.load(f)
                given = vector["input"]
                snapshot = wm.PolicySnapshot.from_json(snapshot_json(given))
                draft = wm.draft_from_json(json.dumps(given["draft"]))
                result = snapshot.assess(draft, given["now"], lang_of(given))
                actual = json.loads(wm.assessment_to_json(result))
                self.assertEqual(normalise(actual), normalise(vector["expected"]))
                # The typed record says the same as its JSON.
                self.assertEqual(result.valid, vector["expected"]["valid"])
                self.assertEqual([e.code.name.lower() for e in result.errors],
                                 [e["code"] for e in actual["errors"]])
                self.assertEqual(snapshot.validate(draft, given["now"], lang_of(given)), result.errors)
                for issue in result.errors + result.warnings:
                    self.assertTrue(issue.message)
                    self.assertIsInstance(json.loads(issue.params), dict)


class Errors(unittest.TestCase):
    def snapshot(self):
        with open(VECTORS[0], encoding="utf-8") as f:
            return snapshot_json(json.load(f)["input"])

    def test_malformed_snapshot(self):
        for doc in ["", "not json", "{}", '{"schema_version": 1}', '{"schema_version": "1"}']:
            with self.subTest(doc=doc):
                with self.assertRaises(wm.MobileError.InvalidSnapshot) as caught:
                    wm.PolicySnapshot.from_json(doc)
                self.assertTrue(caught.exception.reason)

    def test_personal_data_stays_out_of_messages(self):
        doc = json.loads(self.snapshot())
        doc["profile"]["rank"] = "Zhang San 13800138000"
        with self.assertRaises(wm.MobileError.InvalidSnapshot) as caught:
            wm.PolicySnapshot.from_json(json.dumps(doc))
        self.assertNotIn("Zhang", str(caught.exception))
        self.assertNotIn("13800138000", str(caught.exception))

    def test_unknown_schema_version(self):
        doc = json.loads(self.snapshot())
        doc["schema_version"] = 2
        with self.assertRaises(wm.MobileError.UnsupportedSnapshotVersion) as caught:
            wm.PolicySnapshot.from_json(json.dumps(doc))
        self.assertEqual((caught.exception.found, caught.exception.supported), (2, 1))

    def test_bad_time_and_dates(self):
        snapshot = wm.PolicySnapshot.from_json(self.snapshot())
        draft = wm.draft_from_json("{}")
        for now in ["yesterday", "2026-04-27", "2026-04-27T09:00:00"]:
            with self.subTest(now=now):
                with self.assertRaises(wm.MobileError.InvalidInput) as caught:
                    snapshot.assess(draft, now, wm.Lang.EN)
                self.assertEqual(caught.exception.field, "timestamp")
        draft.depart_on = "27/04/2026"
        with self.assertRaises(wm.MobileError.InvalidInput) as caught:
            snapshot.assess(draft, "2026-04-27T09:00:00+08:00", wm.Lang.EN)
        self.assertEqual(caught.exception.field, "date")

    def test_bad_draft_json(self):
        for doc in ["[", '{"kind": "space_travel"}', '{"depart_on": 7}']:
            with self.subTest(doc=doc):
                with self.assertRaises(wm.MobileError.InvalidInput) as caught:
                    wm.draft_from_json(doc)
                self.assertEqual(caught.exception.field, "draft")


class Surface(unittest.TestCase):
    def test_an_empty_draft_is_data_not_an_exception(self):
        with open(VECTORS[0], encoding="utf-8") as f:
            snapshot = wm.PolicySnapshot.from_json(snapshot_json(json.load(f)["input"]))
        result = snapshot.assess(wm.draft_from_json("{}"), "2026-04-27T09:00:00+08:00", wm.Lang.EN)
        self.assertFalse(result.valid)
        self.assertIn(wm.IssueCode.REQUIRED, [e.code for e in result.errors])
        self.assertEqual(snapshot.schema_version(), 1)

    def test_draft_round_trip(self):
        doc = {"kind": "abroad_private", "purpose": "tourism", "destinations": [{"code": "JP"}],
               "depart_on": "2026-05-01", "return_on": "2026-05-05"}
        draft = wm.draft_from_json(json.dumps(doc))
        self.assertEqual(draft.kind, wm.TripKind.ABROAD_PRIVATE)
        self.assertEqual(draft.depart_on, "2026-05-01")
        again = json.loads(wm.draft_to_json(draft))
        self.assertEqual({k: v for k, v in again.items() if v not in (None, [])},
                         {k: v for k, v in doc.items()})

    def test_filer_actions(self):
        view = wm.FilingView
        self.assertEqual(wm.filer_actions(view(status=wm.FilingStatus.PENDING, steps=2, extension_pending=False)),
                         [wm.Action.WITHDRAW])
        self.assertEqual(set(wm.filer_actions(view(status=wm.FilingStatus.APPROVED, steps=2, extension_pending=False))),
                         {wm.Action.CANCEL, wm.Action.DEPART})
        self.assertEqual(wm.filer_actions(view(status=wm.FilingStatus.RETURNED, steps=0, extension_pending=False)), [])

    def test_destinations(self):
        shanghai = wm.lookup_destination("310000")
        self.assertEqual((shanghai.name_zh, shanghai.name_en), ("上海市", "Shanghai"))
        self.assertEqual(shanghai.kind, wm.DestinationKind.PROVINCE)
        self.assertIsNone(wm.lookup_destination("999999"))
        self.assertIn("JP", [r.code for r in wm.search_destinations("Japan", 5)])
        self.assertIn("JP", [r.code for r in wm.search_destinations("日本", 5)])
        self.assertLessEqual(len(wm.search_destinations("a", 3)), 3)

    def test_reference_data(self):
        data = wm.reference_data()
        self.assertEqual(data.snapshot_schema_version, 1)
        self.assertTrue(data.divisions_version and data.countries_version and data.holidays_version)
        self.assertIn(2026, data.holiday_years)


if __name__ == "__main__":
    unittest.main(verbosity=1)
