"""Render + encode one ticket receipt: median and p99 in ms (goal: under 20 ms for 80 mm).

python bench/bench_print.py [--n 300]
"""

from __future__ import annotations

import argparse
import statistics
import time

from benchlib import percentile

from printers.escpos_bytes import encode_receipt
from printers.layout import Receipt, render_receipt

RECEIPT = Receipt(
    office_name="Trung tâm Phục vụ hành chính công tỉnh Ninh Bình",
    service_vi="Lao động - Thương binh và Xã hội",
    service_en="Labour and social affairs",
    code="F123",
    issued_at="26/11/2026 14:05",
    people_ahead=17,
    wait_minutes=42,
    tracker_url="https://xephang.ninhbinh.gov.vn/t/Zm9vYmFyYmF6cXV4MTIzNA",
    footer="Cảm ơn quý khách! Quét mã QR để theo dõi số thứ tự.",
    priority_vi="Người cao tuổi",
)


def measure(n: int, paper_mm: int) -> dict:
    render_ms, total_ms = [], []
    size = 0
    for i in range(n):
        # What changes from ticket to ticket: code, queue figures, minute, tracker URL.
        # Office, service, labels and footer repeat (their rendered text is cached).
        receipt = Receipt(
            **{
                **RECEIPT.to_dict(),
                "code": f"F{i % 1000:03d}",
                "people_ahead": i % 37,
                "wait_minutes": i % 53 + 1,
                "issued_at": f"26/11/2026 {8 + i // 60 % 9:02d}:{i % 60:02d}",
                "tracker_url": RECEIPT.tracker_url + str(i),
            }
        )
        t0 = time.perf_counter()
        image = render_receipt(receipt, paper_mm)
        t1 = time.perf_counter()
        data = encode_receipt(image)
        t2 = time.perf_counter()
        render_ms.append((t1 - t0) * 1000)
        total_ms.append((t2 - t0) * 1000)
        size = len(data)
    return {
        "paper_mm": paper_mm,
        "n": n,
        "bytes": size,
        "render_median": statistics.median(render_ms),
        "median": statistics.median(total_ms),
        "p99": percentile(total_ms, 99),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=300)
    args = parser.parse_args()
    measure(10, 80)  # warm the font cache
    for paper in (80, 58):
        r = measure(args.n, paper)
        print(
            f"{r['paper_mm']} mm: render+encode median {r['median']:.1f} ms,"
            f" p99 {r['p99']:.1f} ms (render alone median {r['render_median']:.1f} ms;"
            f" {r['bytes']} bytes; n={r['n']})"
        )


if __name__ == "__main__":
    main()
