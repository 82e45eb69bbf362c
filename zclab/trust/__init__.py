"""Why the numbers can be trusted: closed forms (``theory``) and the checks against them
(``validation``), the published record (``calibration``), which costs move the answers
(``sensitivity``), and the real kernel's vhost-net (``kernel``)."""
