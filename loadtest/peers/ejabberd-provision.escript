#!/usr/bin/env escript
%% Provisions the load-test users in a running ejabberd 23.01 node (loadtest/peers/ejabberd calls it):
%% users <prefix>1..<prefix>N with one password and the symmetric ring roster of
%% `ratatosk user add-many --roster-size K` (the K/2 neighbours on each side, for odd K also the user
%% opposite), every contact with subscription both.
%%
%%   escript ejabberd-provision.escript NODE COOKIE DOMAIN PREFIX N PASSWORD K [scram|plain]
%%   escript ejabberd-provision.escript NODE COOKIE started
%%   escript ejabberd-provision.escript NODE COOKIE roster-index
%%
%% started: waits (up to 180 s) until the ejabberd application runs in the node. Its listening sockets
%% accept connections earlier (ejabberd opens them while it reads its configuration, before its modules
%% have started and converted their tables), so an open port does not mean the node is ready.
%%
%% roster-index, run after the node's restart: mod_roster_mnesia finds a user's roster through an index
%% on the roster table's `us` field. ejabberd 23.01 creates the table as disc_only_copies on the first
%% start (ignoring ejabberd.schema), and on the restart, converting it to disc_copies, logs "Deleting
%% index 'us'" and leaves the table without it: every roster get then fails with a Mnesia badarg (the
%% roster_get hook crashes, the client gets an empty roster, and no presence goes to contacts). This
%% mode puts the index back.
%%
%% Why not one `ejabberdctl register` / `add_rosteritem` per user and contact: each ejabberdctl call
%% starts an Erlang VM (about 0.5 s), 110,000 calls for 10,000 users with rosters of 10. So this
%% script connects once over Erlang distribution and runs, inside the node and on several processes
%% at once, what `ejabberdctl register` and `ejabberdctl import_piefxis` (XEP-0227) run per user:
%% ejabberd_auth:try_register/3, then mod_roster:set_items/3 with the whole roster in one Mnesia
%% transaction. About 5 s for 10,000 users with rosters of 10; one add_rosteritem transaction per
%% contact (mod_admin_extra:add_rosteritem/7) took 90 s. Like `user add-many --same-salt`, every user
%% gets the same SCRAM credential (ejabberd_auth:password_to_scram/2, derived once).
%%
%% The script is interpreted (no -mode(compile)), so the funs it sends are erl_eval closures that the
%% ejabberd node can run without any module of ours.
main([NodeS, Cookie, Domain, Prefix, CountS, Password, RosterS]) ->
    main([NodeS, Cookie, Domain, Prefix, CountS, Password, RosterS, "scram"]);
main([NodeS, Cookie, Domain, Prefix, CountS, Password, RosterS, Format]) ->
    Node = connect(NodeS, Cookie),
    pong = net_adm:ping(Node),
    N = list_to_integer(CountS),
    K = list_to_integer(RosterS),
    Host = list_to_binary(Domain),
    Pre = list_to_binary(Prefix),
    Offsets = lists:append([[O, -O] || O <- lists:seq(1, K div 2)])
        ++ case K rem 2 of 1 -> [N div 2]; 0 -> [] end,
    %% auth_password_format scram: one credential derived once; plain: the password itself.
    Stored = case Format of
        "plain" -> list_to_binary(Password);
        _ -> rpc:call(Node, ejabberd_auth, password_to_scram, [Host, list_to_binary(Password)])
    end,
    Name = fun(I) -> <<Pre/binary, (integer_to_binary(((I - 1) rem N + N) rem N + 1))/binary>> end,
    Register = fun(First, Last) ->
        lists:foreach(fun(I) ->
            U = Name(I),
            ok = ejabberd_auth:try_register(U, Host, Stored),
            %% #roster_query{items = [#roster_item{jid, name, groups, subscription, ask, mix_channel}]}
            Items = [{roster_item, jid:make(Name(I + O), Host), <<>>, [], both, undefined, undefined} || O <- Offsets],
            {atomic, _} = mod_roster:set_items(U, Host, {roster_query, Items, undefined, false})
        end, lists:seq(First, Last))
    end,
    Workers = 8,
    Chunk = (N + Workers - 1) div Workers,
    Self = self(),
    Ranges = [{F, min(N, F + Chunk - 1)} || F <- lists:seq(1, N, Chunk)],
    [spawn_link(fun() -> Self ! {done, R, rpc:call(Node, erlang, apply, [Register, [F, L]], infinity)} end)
     || {F, L} = R <- Ranges],
    Results = [receive {done, R, Result} -> {R, Result} end || R <- Ranges],
    case [Bad || {_, Result} = Bad <- Results, Result =/= ok] of
        [] -> io:format("ejabberd: ~b users with ~b contacts each registered on ~s~n", [N, K, Node]);
        Failed -> io:format(standard_error, "provisioning failed: ~p~n", [Failed]), halt(1)
    end;
main([NodeS, Cookie, "started"]) ->
    wait_started(connect(NodeS, Cookie), 1800);
main([NodeS, Cookie, "roster-index"]) ->
    %% Run once `started` has returned (loadtest/peers/ejabberd does).
    Node = connect(NodeS, Cookie),
    case rpc:call(Node, mnesia, table_info, [roster, index]) of
        [] ->
            {atomic, ok} = rpc:call(Node, mnesia, add_table_index, [roster, us]),
            io:format("ejabberd: index us added back to the roster table~n");
        [_ | _] -> ok
    end;
main(_) ->
    io:format(standard_error, "usage: ejabberd-provision.escript NODE COOKIE DOMAIN PREFIX N PASSWORD K [scram|plain]~n"
              "       ejabberd-provision.escript NODE COOKIE started|roster-index~n", []),
    halt(2).

%% Makes this script an Erlang node of its own with the node's cookie; returns the node to call.
connect(NodeS, Cookie) ->
    {ok, _} = net_kernel:start([list_to_atom("provision" ++ os:getpid() ++ "@localhost"), shortnames]),
    erlang:set_cookie(node(), list_to_atom(Cookie)),
    list_to_atom(NodeS).

wait_started(_Node, 0) ->
    io:format(standard_error, "ejabberd did not finish starting~n", []),
    halt(1);
wait_started(Node, Tries) ->
    Running = case rpc:call(Node, application, which_applications, []) of
        Apps when is_list(Apps) -> lists:keymember(ejabberd, 1, Apps);
        _ -> false
    end,
    case Running of
        true -> ok;
        false -> timer:sleep(100), wait_started(Node, Tries - 1)
    end.
