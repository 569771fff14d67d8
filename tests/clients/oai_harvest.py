"""Harvests Lectern's OAI-PMH endpoint with Sickle, a real OAI-PMH client, and prints what it
saw as JSON. Usage: oai_harvest.py ENDPOINT KEY [FROM]"""
import json
import sys

from sickle import Sickle
from sickle import oaiexceptions

endpoint, key = sys.argv[1], sys.argv[2]
since = sys.argv[3] if len(sys.argv) > 3 else None
s = Sickle(endpoint, headers={"Authorization": "Bearer " + key}, max_retries=0)
out = {}

ident = s.Identify()
out["identify"] = {
    "repositoryName": ident.repositoryName,
    "protocolVersion": ident.protocolVersion,
    "deletedRecord": ident.deletedRecord,
    "granularity": ident.granularity,
    "earliestDatestamp": ident.earliestDatestamp,
}
out["formats"] = [f.metadataPrefix for f in s.ListMetadataFormats()]
out["sets"] = {x.setSpec: x.setName for x in s.ListSets()}

args = {"metadataPrefix": "oai_dc", "ignore_deleted": False}
if since:
    args["from"] = since
records = []
for r in s.ListRecords(**args):
    records.append({
        "identifier": r.header.identifier,
        "datestamp": r.header.datestamp,
        "deleted": r.header.deleted,
        "sets": r.header.setSpecs,
        "metadata": r.metadata if not r.header.deleted else None,
    })
out["records"] = records
out["identifiers"] = [h.identifier for h in s.ListIdentifiers(metadataPrefix="oai_dc", ignore_deleted=False)]
if records:
    g = s.GetRecord(identifier=records[0]["identifier"], metadataPrefix="oai_dc")
    out["get_record"] = {"identifier": g.header.identifier, "deleted": g.header.deleted}

errors = {}
def expect(name, call):
    try:
        call()
        errors[name] = None
    except Exception as e:  # Sickle's OAI errors derive from Exception directly
        if type(e).__module__ != oaiexceptions.__name__:
            raise
        errors[name] = type(e).__name__
expect("marc", lambda: list(s.ListRecords(metadataPrefix="marc")))
expect("token", lambda: list(s.ListRecords(resumptionToken="not-a-token")))
expect("unknown_id", lambda: s.GetRecord(identifier="oai:lectern:nope", metadataPrefix="oai_dc"))
expect("bad_from", lambda: list(s.ListRecords(metadataPrefix="oai_dc", **{"from": "last week"})))
expect("future", lambda: list(s.ListRecords(metadataPrefix="oai_dc", **{"from": "2999-01-01"})))
expect("bad_set", lambda: list(s.ListRecords(metadataPrefix="oai_dc", set="nothing")))
out["errors"] = errors
print(json.dumps(out, ensure_ascii=False))
