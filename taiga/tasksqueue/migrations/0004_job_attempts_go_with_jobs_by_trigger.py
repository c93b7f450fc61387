"""Run records go with their jobs through two statement triggers instead of a foreign key.

The foreign key's check, one lookup of the job per inserted record, cost about 7 us of PostgreSQL
CPU per record (the insert itself about 4.5 us): with a record per run of every Django task, that
was most of what storing results cost the database. Records are only ever inserted by the worker,
for a job that the same statement has just ended (and so holds locked), so the check guarded
nothing. What the foreign key's ON DELETE CASCADE did, the triggers do for a whole statement at
once: a DELETE of jobs deletes their records, a TRUNCATE of the jobs (the test toolkit's, with
RESTART IDENTITY, after which job ids are used again) empties the records.
"""

from django.db import migrations

FORWARD = """
ALTER TABLE tasksqueue_jobattempt DROP CONSTRAINT tasksqueue_jobattempt_job_fk;

CREATE FUNCTION tasksqueue_delete_job_attempts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM tasksqueue_jobattempt AS run USING gone WHERE run.job_id = gone.id;
    RETURN NULL;
END;
$$;

CREATE TRIGGER tasksqueue_delete_job_attempts
    AFTER DELETE ON procrastinate_jobs
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION tasksqueue_delete_job_attempts();

CREATE FUNCTION tasksqueue_truncate_job_attempts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE tasksqueue_jobattempt;
    RETURN NULL;
END;
$$;

CREATE TRIGGER tasksqueue_truncate_job_attempts
    AFTER TRUNCATE ON procrastinate_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION tasksqueue_truncate_job_attempts();
"""

BACKWARD = """
DROP TRIGGER tasksqueue_truncate_job_attempts ON procrastinate_jobs;
DROP FUNCTION tasksqueue_truncate_job_attempts();
DROP TRIGGER tasksqueue_delete_job_attempts ON procrastinate_jobs;
DROP FUNCTION tasksqueue_delete_job_attempts();
DELETE FROM tasksqueue_jobattempt AS run
 WHERE NOT EXISTS (SELECT 1 FROM procrastinate_jobs AS job WHERE job.id = run.job_id);
ALTER TABLE tasksqueue_jobattempt ADD CONSTRAINT tasksqueue_jobattempt_job_fk
    FOREIGN KEY (job_id) REFERENCES procrastinate_jobs (id) ON DELETE CASCADE;
"""


class Migration(migrations.Migration):
    dependencies = [("tasksqueue", "0003_job_attempts")]

    operations = [migrations.RunSQL(sql=FORWARD, reverse_sql=BACKWARD)]
