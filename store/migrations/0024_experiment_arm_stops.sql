-- Arms of routing experiments their guardrail stopped (store.StopArm):
-- every node reads them and routes the arm's payments by control. The key
-- makes a stop happen once, whichever node's check sees the breach first.
CREATE TABLE experiment_arm_stops (
    experiment TEXT NOT NULL,
    salt       TEXT NOT NULL,
    arm        TEXT NOT NULL,
    stopped_at TIMESTAMPTZ NOT NULL,
    reason     TEXT NOT NULL,
    PRIMARY KEY (experiment, salt, arm)
);
