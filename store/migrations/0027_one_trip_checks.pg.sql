-- A change sent to PostgreSQL in one round trip (store/onetrip.go) checks
-- inside the query what the transaction would check between statements:
-- that its compare-and-set found the payment at its version, that the
-- follow-up it carries out was still pending, that the provider event was
-- not seen yet. paywire_expect_one raises, rolling the whole query back,
-- when such a statement touched no row; its SQLSTATE PW409 and message
-- (the check's name) tell the store which.
CREATE FUNCTION paywire_expect_one(touched bigint, check_name text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF touched <> 1 THEN
        RAISE EXCEPTION '%', check_name USING ERRCODE = 'PW409';
    END IF;
END;
$$;
