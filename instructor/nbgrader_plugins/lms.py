"""`nbgrader zip_collect`'s file-name plugin for the LMS download patterns of nbgrader_config.py:
every file it cannot collect is reported with the reason. See docs/instructors.md, "Hand-in"."""

from __future__ import annotations

import os
import re

from nbgrader.plugins import FileNameCollectorPlugin
from traitlets import Dict

from ..gradebook import enrol


class LmsFileNames(FileNameCollectorPlugin):
    """Each file of an LMS download is collected by the pattern that matches its whole path inside
    its archive's folder; the student id is the name the LMS wrote, in lower case without spaces or
    punctuation. Every file that is not collected is reported, and stays in the extracted folder."""

    patterns = Dict(help="LMS name -> regular expression with the groups student_id, file_id and lms_id "
                         "(and optionally late), matched against each file's path inside its archive's folder"
                    ).tag(config=True)

    def collect(self, submitted_file: str):
        root, _, inside = submitted_file.partition("/extracted/")
        relative = inside.partition("/")[2]  # without the folder named after the archive
        if not hasattr(self, "_shared"):
            self._shared = self._ids_of_two_students(root + "/extracted")
        found = self._match(relative)
        if found is None:
            self.log.error("Not collected: %s matches no LMS file-name pattern (%s in nbgrader_config.py); it stays in "
                           "the extracted folder: rename it, or add its LMS's pattern.", inside, ", ".join(self.patterns))
            return None
        lms, student_id, file_id, late, name, _ = found
        if student_id in self._shared:
            self.log.error("Not collected: %s: two students of the LMS are both %s (ids %s); file their notebooks "
                           "in submitted/<student id>/ by hand.", inside, student_id, ", ".join(sorted(self._shared[student_id])))
            return None
        if late:
            self.log.warning("%s: %s marks %s's submission late.", inside, lms, student_id)
        enrol(self.parent.coursedir.db_url, student_id, name)
        return {"student_id": student_id, "file_id": file_id}

    def _match(self, relative: str):
        """(lms, student id, file id, late, the LMS's name, LMS id) of the first pattern matching, or None."""
        for lms, pattern in self.patterns.items():
            match = re.fullmatch(pattern, relative)
            if match:
                found = match.groupdict()
                student_id = re.sub(r"[^a-z0-9]", "", found["student_id"].lower())
                return lms, student_id, found["file_id"], bool(found.get("late")), found["student_id"], found["lms_id"]
        return None

    def _ids_of_two_students(self, extracted: str) -> dict:
        """Student ids that the LMS's names give to more than one of its students: id -> LMS ids."""
        ids = {}
        for folder, _, names in os.walk(extracted):
            for name in names:
                found = self._match(os.path.relpath(os.path.join(folder, name), extracted).partition("/")[2])
                if found:
                    ids.setdefault(found[1], set()).add(found[5])
        return {student_id: lms_ids for student_id, lms_ids in ids.items() if len(lms_ids) > 1}
