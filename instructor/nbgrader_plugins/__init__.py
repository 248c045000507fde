"""What nbgrader_config.py plugs into nbgrader: the exchange's collect (collect.py), the LMS file names
(lms.py), and the pages TAs and students read (views.py, templates/)."""
