"""`agent report`: a run or a bench as one self-contained HTML page."""
from agent.report.bench_report import write_bench_report
from agent.report.run_report import write_report

__all__ = ["write_bench_report", "write_report"]
