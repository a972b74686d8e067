#!/usr/bin/env python3
"""Validates a JUnit XML report: against tests/tools/junit.xsd with lxml, then by
reading it with junitparser (the parser CI report tools in Python use). Prints
"tests failures" as junitparser counts them; exits 1 on any problem."""
import os
import sys

from lxml import etree
import junitparser

path = sys.argv[1]
schema = etree.XMLSchema(etree.parse(os.path.join(os.path.dirname(__file__), "junit.xsd")))
doc = etree.parse(path)
if not schema.validate(doc):
    print(schema.error_log, file=sys.stderr)
    sys.exit(1)
xml = junitparser.JUnitXml.fromfile(path)
tests = failures = 0
for suite in xml:
    for case in suite:
        tests += 1
        if any(isinstance(r, junitparser.Failure) for r in case.result):
            failures += 1
print(tests, failures)
