"""The instructor's autograder, built around nbgrader.

One module per job:
- `course_dir`: where a course keeps its notebooks, submissions and gradebook.
- `model`: what the source notebook (solutions/) says is graded, and how.
- `collect`: gather LMS downloads into submitted/<student>/<assignment>/.
- `recover`: read a submission whatever state it is in, and match its cells to the source.
- `sandbox`: start the isolated kernel process that runs one submission.
- `kernel`: the code that runs inside that process (guards, checks, execution).
- `guard`: the defences used inside the kernel (trusted comparisons, value screening, audit).
- `grade`: grade one submission; `batch`: grade a class in parallel, resumably.
- `gradebook`: write scores into nbgrader's gradebook.
- `feedback`, `export`: what goes back to students and out to the LMS.
- `cli`: the `course collect|grade|feedback|export|check` commands.
"""
