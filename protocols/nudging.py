"""Somatic nudging by a teacher: each step, a student's target potential follows a teacher's soma.

:class:`SomaticNudging` copies the teacher population's somatic potential into
the student's ``u_target`` at the start of every step (the teacher's
potential after the previous step's update), for models with a nudging
conductance (:class:`compsim.models.urbanczik.UrbanczikNeuron`: the soma
receives ``g_nudge (u_target - U)``). Set the student's ``g_nudge`` to switch
the teacher on (e.g. 300 nS) or off (0). This is the teacher of Urbanczik &
Senn (2014): a neuron with the target weights whose somatic potential the
student's soma is pulled towards while its dendrite learns.
"""
from numba import njit

from compsim.engine.plan import Stage


class SomaticNudging:
    """Student ``u_target`` <- teacher ``v_soma``, neuron by neuron and copy by copy (same sizes)."""

    def __init__(self, teacher, student, *, source_var="v_soma", target_var="u_target"):
        if teacher.n != student.n:
            raise ValueError(f"SomaticNudging: teacher and student must have the same size, got {teacher.n} and {student.n}")
        for pop, var in ((teacher, source_var), (student, target_var)):
            if var not in pop.var_names:
                raise ValueError(f"SomaticNudging: '{pop.name}' has no state variable '{var}'")
        self.teacher, self.student = teacher, student
        self.rows = (teacher.var_names.index(source_var), student.var_names.index(target_var))
        teacher.network.add_protocol(self)

    def attach(self, index):
        self.owner = f"x{index}"

    def stages(self):
        return [NudgingStage(self)]

    def describe(self):
        return {"protocol": "somatic nudging", "teacher": self.teacher.name, "student": self.student.name}


class NudgingStage(Stage):
    """Phase ``sources``: copy the teacher's potentials into the student's targets."""

    phase = "sources"
    verb = "nudge"

    def describe(self):
        return f"nudge {self.subject.student.name} towards {self.subject.teacher.name}"

    def emit(self, out):
        p = self.subject
        out.emit(f"{out.use(copy_row)}({out.array(p.teacher.owner, 'state')}, {p.rows[0]}, "
                 f"{out.array(p.student.owner, 'state')}, {p.rows[1]})")

    def emit_cuda(self, out):
        """One thread per neuron and copy."""
        p = self.subject
        n = p.student.n
        teacher, student = out.array(p.teacher.owner, "state"), out.array(p.student.owner, "state")
        out.grid_loop("cell", f"{p.student.batch * n}")
        out.emit(f"{student}[{p.rows[1]}, cell // {n}, cell % {n}] = {teacher}[{p.rows[0]}, cell // {n}, cell % {n}]", 1)
        out.end_stage()


@njit(cache=True)
def copy_row(src, row_src, dst, row_dst):
    """``dst[row_dst] = src[row_src]`` in every copy."""
    for b in range(src.shape[1]):
        for i in range(src.shape[2]):
            dst[row_dst, b, i] = src[row_src, b, i]
