"""What runs in the student's kernel, and nothing else of the kit: in the sandbox, this folder is
mounted as `grader_tests`, so a hidden test cell's ::

    from grader_tests import check; check("encoder_decoder", "layers", globals())

hands the variables its check reads to the grader (`hand_over`), which judges them after the
notebook, outside the kernel. Specs, checks, pass marks and reference code stay outside the sandbox:
what each check reads comes from the grader as data (the plan, $GRADER_PLAN)."""

from .hand_over import check

__all__ = ["check"]
