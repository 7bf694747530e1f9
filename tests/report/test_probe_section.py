"""The report's probe section shows the lenient score beside the strict one."""


from dataladder.report.html import probe_section


def test_lenient_beside_strict():
    cell = {"accuracy": 0.0, "ci_low": 0.0, "ci_high": 0.16, "n": 20, "correct": 0,
            "lenient": {"accuracy": 0.9, "ci_low": 0.7, "ci_high": 0.97, "n": 20, "correct": 18}}
    same = {**cell, "correct": 18, "accuracy": 0.9, "ci_low": 0.7, "ci_high": 0.97}
    skill = {"target_format": "default", "diagnosis": "format-gap", "format_gap_by": "lenient", "partly_format": False,
             "cheaply_fixable": True, "missing_prerequisites": [], "data_band": {"label": "tens of examples", "low": 10,
                                                                                  "high": 100}}
    probe = {"model": "m", "n": 20, "items": 40, "mastered_at": 0.8, "target_format": None,
             "skills": {"words": {**skill, "formats": {"default": cell}},
                        "json": {**skill, "format_gap_by": "other-format", "formats": {"default": same}}}}
    page = probe_section(probe)
    assert "0.00 [0.00–0.16]<br><span class=\"sub\">lenient 0.90 [0.70–0.97]</span>" in page
    assert page.count("lenient 0.90") == 1  # not where it equals the strict score
    assert "by the lenient reading" in page


def test_probe_files_without_lenient_still_render():
    cell = {"accuracy": 0.5, "ci_low": 0.3, "ci_high": 0.7, "n": 20, "correct": 10}
    probe = {"model": "m", "n": 20, "items": 20, "mastered_at": 0.8, "target_format": None,
             "skills": {"s": {"target_format": "exam", "diagnosis": "partial", "cheaply_fixable": True,
                              "missing_prerequisites": [], "formats": {"exam": cell},
                              "data_band": {"label": "hundreds", "low": 100, "high": 3000}}}}
    assert "lenient" not in probe_section(probe).split("<table>")[1]
