"""The learning platform's rules, pure: how school notation is read, how an answer is
checked the way a teacher would check it, what an exercise is.

WHY pure: the answer checks are the heart of the platform and the place its users complain
about most (a right answer marked wrong). They are tested directly, case by case, with no
server or database in the way.
"""
